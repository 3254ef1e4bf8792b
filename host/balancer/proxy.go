package balancer

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/gnrhost/gnrhost/host/admin"
)

// ServeHTTP is the public port: /healthz and /readyz are the balancer's own; everything
// else goes to the process Route picks, or gets 503 at once when that process is not
// ready (no dial, no wait: the client retries after Retry-After).
func (b *Balancer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/healthz":
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
		return
	case "/readyz":
		b.serveReady(w)
		return
	}
	ring := b.ring.Load()
	d := Route(r, b.routeCookie, ring, b.pickReady)
	if d.Reason == ReasonNone {
		unavailable(w, 0, "")
		return
	}
	c := b.child(d.Process)
	if c == nil {
		unavailable(w, d.Process, StateStopped)
		return
	}
	if state := c.State(); state != StateReady {
		unavailable(w, d.Process, state)
		return
	}
	// The process mints guests that hash back to it (a client's own value is replaced).
	r.Header.Set(RingHeader, ring.Header())
	if !isUpgrade(r) {
		// The host enforces the same bound; doing it here too keeps a large body from
		// being copied to a process only to be refused there.
		r.Body = http.MaxBytesReader(w, r.Body, b.maxBodyBytes)
	}
	c.proxy.ServeHTTP(w, r)
}

func isUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// serveReady: 200 when every process in the ring is ready, else 503 with each one's state.
func (b *Balancer) serveReady(w http.ResponseWriter) {
	procs := b.processes()
	ready := len(procs) > 0
	for _, p := range procs {
		if p.InRing && p.State != string(StateReady) {
			ready = false
		}
	}
	body := map[string]any{"status": "ready", "processes": procs}
	code := http.StatusOK
	if !ready || b.draining.Load() {
		body["status"], code = "not ready", http.StatusServiceUnavailable
	}
	writeJSON(w, code, body)
}

// unavailable answers 503 for a request whose process cannot take it now.
func unavailable(w http.ResponseWriter, process int, state State) {
	w.Header().Set("Retry-After", "1")
	body := map[string]any{"error": "no host process is ready; retry shortly"}
	if process != 0 {
		body["error"] = fmt.Sprintf("host process %02d is %s; retry shortly", process, state)
		body["process"] = process
	}
	writeJSON(w, http.StatusServiceUnavailable, body)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// processes is the status of every process slot, by number.
func (b *Balancer) processes() []admin.ProcessStatus {
	ring := b.ring.Load()
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]admin.ProcessStatus, 0, len(b.children))
	for n := 1; n <= 99; n++ {
		if c, ok := b.children[n]; ok {
			out = append(out, c.status(ring.Has(n)))
		}
	}
	return out
}
