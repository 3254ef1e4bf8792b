package host

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/host/assets"
	"github.com/gnrhost/gnrhost/host/legacy"
	"github.com/gnrhost/gnrhost/host/pluginmgr"
)

// Route kinds label the request metrics; a fixed set keeps the series bounded.
const (
	kindHealth  = "health"
	kindMetrics = "metrics"
	kindGnr     = "gnr"
	kindOther   = "other"
	kindLegacy  = "legacy"
)

func (h *Host) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.Recoverer)
	r.Use(h.limitBody)
	r.NotFound(h.instrument(kindOther, http.NotFound))
	r.Get("/healthz", h.instrument(kindHealth, h.healthz))
	r.Get("/readyz", h.instrument(kindHealth, h.readyz))
	if *h.set.Metrics.Public {
		r.Method(http.MethodGet, "/metrics", h.instrument(kindMetrics, h.metrics.Handler().ServeHTTP))
	}
	r.Get("/_gnr/connection", h.instrument(kindGnr, h.connection))
	static := http.StripPrefix("/_gnr/", http.FileServerFS(assets.FS()))
	r.Get("/_gnr/client.js", h.instrument(kindGnr, static.ServeHTTP))
	r.Get("/_gnr/examples/*", h.instrument(kindGnr, static.ServeHTTP))
	h.pages.Mount(r, func(kind string, fn http.HandlerFunc) http.HandlerFunc { return h.instrument(kind, h.gated(fn)) })
	r.Post("/_gnr/dbevents", h.instrument(kindGnr, h.gated(h.postDbEvents)))
	r.Post("/_gnr/notify", h.instrument(kindGnr, h.postNotify))
	// Not instrumented: a WebSocket request lasts as long as its connection.
	r.Get(h.set.WebSocket.Path, h.gated(h.ws.ServeHTTP))
	if h.proxy != nil {
		// The same series as instrument, without its per-request allocations: the
		// proxy shares the cores of the Python workers it fronts.
		proxy := legacy.Instrument(h.proxy, kindLegacy, h.metrics.HTTPInFlight, h.metrics.HTTPDuration, h.metrics.HTTPRequests)
		h.legacyRoutes = &legacyRoutes{mux: r, handler: proxy, patterns: make(map[string]bool)}
		for _, prefix := range h.set.Legacy.Routes {
			if prefix == "/" {
				h.legacyRoutes.root = true
				// Everything that no page route or host endpoint takes.
				r.NotFound(proxy)
				r.MethodNotAllowed(proxy)
				continue
			}
			prefix = strings.TrimSuffix(prefix, "/")
			r.Handle(prefix, proxy)
			r.Handle(prefix+"/*", proxy)
			h.legacyRoutes.patterns[prefix], h.legacyRoutes.patterns[prefix+"/*"] = true, true
		}
	}
	return r
}

func (h *Host) limitBody(next http.Handler) http.Handler {
	limit := int64(h.set.Limits.MaxBodyBytes)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > limit {
			writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"error": "request body too large", "limit_bytes": limit})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

func (h *Host) instrument(kind string, fn http.HandlerFunc) http.HandlerFunc {
	duration := h.metrics.HTTPDuration.WithLabelValues(kind)
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		h.metrics.HTTPInFlight.Inc()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		defer func() {
			h.metrics.HTTPInFlight.Dec()
			duration.Observe(time.Since(start).Seconds())
			status := ww.Status()
			if status == 0 {
				status = http.StatusOK
			}
			h.metrics.HTTPRequests.WithLabelValues(kind, strconv.Itoa(status)).Inc()
		}()
		fn(ww, r)
	}
}

func (h *Host) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "alive"})
}

func (h *Host) readyz(w http.ResponseWriter, _ *http.Request) {
	status, code := "ready", http.StatusOK
	if !h.Ready() {
		status, code = "not ready", http.StatusServiceUnavailable
		if h.draining.Load() {
			status = "draining"
		}
	}
	writeJSON(w, code, map[string]any{"status": status, "set": h.set.Name, "plugins": h.Plugins()})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers err with a status that fits it: 503 naming the plugin when a plugin
// is down, 404 for a missing item, 400 for bad input, 500 otherwise.
func (h *Host) writeError(w http.ResponseWriter, r *http.Request, err error) {
	body := map[string]any{"error": err.Error()}
	code := http.StatusInternalServerError
	var down *pluginmgr.DownError
	switch {
	case errors.As(err, &down):
		code = http.StatusServiceUnavailable
		// The cause (socket paths, gRPC detail) goes to the log, not to the public.
		body["error"] = fmt.Sprintf("plugin %s (%s slot) is unavailable; retry shortly", down.Plugin, down.Slot)
		body["plugin"], body["slot"] = down.Plugin, down.Slot
		w.Header().Set("Retry-After", "1")
	case errors.Is(err, abi.ErrUnavailable):
		code = http.StatusServiceUnavailable
		body["error"] = "a backend is unavailable; retry shortly"
		w.Header().Set("Retry-After", "1")
	case errors.Is(err, abi.ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, abi.ErrInvalid):
		code = http.StatusBadRequest
	}
	if code >= 500 {
		h.logger.Warn("request failed", "path", r.URL.Path, "status", code, "err", err)
	}
	writeJSON(w, code, body)
}

// gateTimeout bounds how long a page request waits for a swap to hand the pages over.
const gateTimeout = 30 * time.Second

// gated holds fn until the pages gate opens (a swap is moving page state into this set),
// so no request reads a page whose newest state is still in the previous set.
func (h *Host) gated(fn http.HandlerFunc) http.HandlerFunc {
	if h.pagesGate == nil {
		return fn
	}
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-h.pagesGate:
		default:
			t := time.NewTimer(gateTimeout)
			defer t.Stop()
			select {
			case <-h.pagesGate:
			case <-r.Context().Done():
				return
			case <-t.C:
				h.writeError(w, r, fmt.Errorf("%w: the page state is still moving in from the previous plugin set", abi.ErrUnavailable))
				return
			}
		}
		fn(w, r)
	}
}
