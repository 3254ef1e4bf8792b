package balancer

import (
	"context"
	"encoding/json"
	"io"
	"net/http"

	"github.com/gnrhost/gnrhost/host/admin"
)

// The balancer's admin channel speaks the host's admin API (GET /status, POST /swap,
// /rollback, /reload: see swap.go), so `gnrhost status`, `swap` and `rollback` work
// against it, and adds POST /scale. It listens on a
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
	swapAnswer := func(w http.ResponseWriter, rec admin.SwapRecord, err error) {
		if err != nil {
			writeJSON(w, http.StatusConflict, admin.Response{Error: err.Error(), Result: rec})
			return
		}
		writeJSON(w, http.StatusOK, rec)
	}
	mux.HandleFunc("POST /swap", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			File string `json:"file"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil || req.File == "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": `want a JSON body {"file": "/path/to/set.yaml"}`})
			return
		}
		rec, err := b.Swap(r.Context(), req.File)
		swapAnswer(w, rec, err)
	})
	mux.HandleFunc("POST /rollback", func(w http.ResponseWriter, r *http.Request) {
		rec, err := b.Rollback(r.Context())
		swapAnswer(w, rec, err)
	})
	mux.HandleFunc("POST /reload", func(w http.ResponseWriter, r *http.Request) {
		rec, err := b.Reload(r.Context())
		swapAnswer(w, rec, err)
	})
	return mux
}

// Status is what `gnrhost status` shows for a balancer: the set and its processes.
func (b *Balancer) Status() admin.Status {
	b.setMu.Lock()
	info := admin.SetInfo{Name: b.setName, File: b.spec.file(), Since: b.setSince}
	var previous *admin.SetInfo
	if b.previousFile != "" {
		previous = &admin.SetInfo{Name: b.previousName, File: b.previousFile}
	}
	b.setMu.Unlock()
	return admin.Status{
		Set:       info,
		Previous:  previous,
		Plugins:   []admin.PluginStatus{},
		Swaps:     []admin.SwapRecord{},
		Processes: b.processes(),
	}
}
