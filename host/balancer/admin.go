package balancer

import (
	"context"
	"encoding/json"
	"io"
	"net/http"

	"github.com/gnrhost/gnrhost/host/admin"
)

// The balancer's admin channel speaks the host's admin API where it makes sense (GET
// /status, so `gnrhost status` works against it) and adds POST /scale. It listens on a
// unix socket only, with host/admin's conventions: 0600 socket in a 0700 directory, by
// default named after the public port.

// startAdmin opens the admin socket and serves it until ctx ends; the returned channel
// closes when it has stopped.
func (b *Balancer) startAdmin(ctx context.Context) (<-chan struct{}, error) {
	socket := b.opts.AdminSocket
	if socket == "" {
		socket = admin.DefaultSocket(b.opts.Listener.Addr().String())
	}
	ln, err := admin.ListenSocket(socket)
	if err != nil {
		return nil, err
	}
	alog := b.logger.With("component", "admin")
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := admin.Serve(ctx, ln, b.adminHandler(), alog); err != nil {
			alog.Error("admin socket stopped", "err", err)
		}
	}()
	b.logger.Info("admin channel open", "socket", socket)
	return done, nil
}

func (b *Balancer) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, b.Status())
	})
	mux.HandleFunc("POST /scale", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Processes int `json:"processes"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": `want a JSON body {"processes": N}`})
			return
		}
		res, err := b.Scale(r.Context(), req.Processes)
		rec := admin.ScaleRecord{From: res.From, To: res.To, Millis: res.Millis, Steps: res.Steps}
		if err != nil {
			b.logger.Warn("admin scale refused", "err", err)
			writeJSON(w, http.StatusConflict, map[string]any{"error": err.Error(), "result": rec})
			return
		}
		writeJSON(w, http.StatusOK, rec)
	})
	refuse := func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusConflict, map[string]string{"error": "the local balancer does not swap its processes yet; " +
			"swap each one through its own admin socket (gnrhost status --json lists their addresses), or restart the balancer"})
	}
	mux.HandleFunc("POST /swap", refuse)
	mux.HandleFunc("POST /rollback", refuse)
	mux.HandleFunc("POST /reload", refuse)
	return mux
}

// Status is what `gnrhost status` shows for a balancer: the set and its processes.
func (b *Balancer) Status() admin.Status {
	set := b.opts.Set
	return admin.Status{
		Set:       admin.SetInfo{Name: set.Name, File: set.Path, Since: b.since},
		Plugins:   []admin.PluginStatus{},
		Swaps:     []admin.SwapRecord{},
		Processes: b.processes(),
	}
}
