package legacy

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func testSeries() (prometheus.Gauge, *prometheus.HistogramVec, *prometheus.CounterVec) {
	return prometheus.NewGauge(prometheus.GaugeOpts{Name: "in_flight"}),
		prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "duration"}, []string{"route"}),
		prometheus.NewCounterVec(prometheus.CounterOpts{Name: "requests"}, []string{"route", "code"})
}

func TestInstrumentCounts(t *testing.T) {
	inFlight, duration, requests := testSeries()
	h := Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if inFlight := testutil.ToFloat64(inFlight); inFlight != 1 {
			t.Errorf("in flight %v while serving", inFlight)
		}
		switch r.URL.Path {
		case "/missing":
			w.WriteHeader(http.StatusEarlyHints) // interim: not the status
			http.NotFound(w, r)
		case "/stream":
			w.(http.Flusher).Flush()
		case "/silent":
		default:
			_, _ = w.Write([]byte("ok"))
		}
	}), "legacy", inFlight, duration, requests)
	for _, path := range []string{"/", "/", "/missing", "/stream", "/silent"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, path, nil))
	}
	if got := testutil.ToFloat64(requests.WithLabelValues("legacy", "200")); got != 4 {
		t.Errorf("200s: %v", got)
	}
	if got := testutil.ToFloat64(requests.WithLabelValues("legacy", "404")); got != 1 {
		t.Errorf("404s: %v", got)
	}
	if got := testutil.ToFloat64(inFlight); got != 0 {
		t.Errorf("in flight after: %v", got)
	}
	if n := testutil.CollectAndCount(duration); n != 1 {
		t.Errorf("%d duration series", n)
	}
}

func TestInstrumentDoesNotAllocate(t *testing.T) {
	inFlight, duration, requests := testSeries()
	h := Instrument(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
	}), "legacy", inFlight, duration, requests)
	w := &discardWriter{h: make(http.Header)}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	h.ServeHTTP(w, r) // the first request of a status looks its counter up
	if n := testing.AllocsPerRun(100, func() { h.ServeHTTP(w, r) }); n != 0 {
		t.Errorf("%v allocations per request", n)
	}
}
