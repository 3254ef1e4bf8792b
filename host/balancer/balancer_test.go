package balancer

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gnrhost/gnrhost/host/pluginset"
)

// Without a ready process the balancer answers by itself, at once: 503 with Retry-After
// and a JSON error; /readyz says not ready, /healthz that the balancer runs.
func TestNoReadyProcessAnswers503(t *testing.T) {
	set := &pluginset.Set{}
	set.Session.Cookie = "gnrhost_conn"
	set.Limits.MaxBodyBytes = 1 << 20
	b := newBalancer(Options{Set: set, Logger: slog.New(slog.DiscardHandler)})
	b.ring.Store(NewRing(1, 2))

	for _, c := range []struct {
		path   string
		cookie string
		want   int
	}{
		{"/counter", "", http.StatusServiceUnavailable},
		{"/counter", "alice", http.StatusServiceUnavailable},
		{"/readyz", "", http.StatusServiceUnavailable},
		{"/healthz", "", http.StatusOK},
	} {
		r := httptest.NewRequest(http.MethodGet, c.path, nil)
		if c.cookie != "" {
			r.AddCookie(&http.Cookie{Name: "gnrhost_conn_route", Value: c.cookie})
		}
		w := httptest.NewRecorder()
		b.ServeHTTP(w, r)
		var body map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Errorf("%s: body %q is not JSON", c.path, w.Body)
		}
		if w.Code != c.want {
			t.Errorf("%s (cookie %q): %d, want %d: %s", c.path, c.cookie, w.Code, c.want, w.Body)
		}
		if c.want == http.StatusServiceUnavailable && c.path != "/readyz" && w.Header().Get("Retry-After") == "" {
			t.Errorf("%s: 503 without Retry-After", c.path)
		}
	}
}
