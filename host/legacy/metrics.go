package legacy

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Instrument wraps the legacy routes' handler with the host's request series (in flight,
// duration by route, count by route and status code) like the host's other routes, but
// without an allocation or a label lookup per request: every legacy request pays for
// its metrics on the cores the Python workers need. The status-recording writer is
// pooled and each status code's counter is looked up once. requests is labelled
// (route, code), duration (route).
func Instrument(next http.Handler, route string, inFlight prometheus.Gauge, duration *prometheus.HistogramVec, requests *prometheus.CounterVec) http.HandlerFunc {
	observe := duration.WithLabelValues(route)
	var counters [1000]atomic.Pointer[prometheus.Counter]
	count := func(code int) {
		if code < 100 || code >= len(counters) {
			code = http.StatusOK // as http.Server would answer it
		}
		c := counters[code].Load()
		if c == nil {
			counter := requests.WithLabelValues(route, strconv.Itoa(code))
			c = &counter
			counters[code].Store(c)
		}
		(*c).Inc()
	}
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		inFlight.Inc()
		sw := statusWriterPool.Get().(*statusWriter)
		sw.ResponseWriter, sw.code = w, 0
		defer func() {
			inFlight.Dec()
			observe.Observe(time.Since(start).Seconds())
			count(sw.code)
			sw.ResponseWriter = nil
			statusWriterPool.Put(sw)
		}()
		next.ServeHTTP(sw, r)
	}
}

// statusWriter records the status of the answer. Flush is passed through for the
// streamed answers; Unwrap gives http.ResponseController (hijacking for upgrades) the
// server's writer.
type statusWriter struct {
	http.ResponseWriter
	code int
}

var statusWriterPool = sync.Pool{New: func() any { return new(statusWriter) }}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.code = code // not the interim 1xx answers
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
		return
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
