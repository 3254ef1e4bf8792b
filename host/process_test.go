package host_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/gnrhost/gnrhost/host/balancer"
	"github.com/gnrhost/gnrhost/host/pluginset"
	"github.com/gnrhost/gnrhost/host/session"
)

// TestProcessIDsAndAdoption: behind a balancer a host's page and connection ids carry
// its number, the route cookie names the user, and another process sharing the cookie
// secret takes the signed connection over instead of making a new guest.
func TestProcessIDsAndAdoption(t *testing.T) {
	t.Setenv("GNRHOST_TEST_SECRET", "0123456789abcdef0123")
	file := counterSet(t, t.TempDir(), "p", "resident", "session: {secret_env: GNRHOST_TEST_SECRET}\n")
	_, p1 := startProcess(t, file, 1)
	_, p2 := startProcess(t, file, 2)

	c := newCounterClient(t, p1.URL)
	if n, ok := session.ProcessOf(c.pageID); !ok || n != 1 {
		t.Fatalf("page id %q: want suffix |p01", c.pageID)
	}
	u, _ := url.Parse(p1.URL)
	var conn, route string
	for _, ck := range c.http.Jar.Cookies(u) {
		switch ck.Name {
		case pluginset.DefaultSessionCookie:
			conn = ck.Value
		case session.RouteCookie(pluginset.DefaultSessionCookie):
			route = ck.Value
		}
	}
	who := func(base string) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+"/_gnr/connection", nil)
		req.Header.Set("Cookie", pluginset.DefaultSessionCookie+"="+conn)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var out map[string]any
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s: %s", base, raw)
		}
		return out
	}
	first := who(p1.URL)
	connID, _ := first["connection_id"].(string)
	if n, ok := session.ProcessOf(connID); !ok || n != 1 {
		t.Fatalf("connection id %q: want suffix |p01", connID)
	}
	if route != "guest_"+connID {
		t.Errorf("route cookie = %q; want the guest user guest_%s", route, connID)
	}
	if moved := who(p2.URL); moved["connection_id"] != connID || moved["user"] != first["user"] {
		t.Errorf("process 2 answered %v; want the adopted connection %v", moved, first)
	}
	// Process 2 does not serve process 1's page to the same user: the page lives in its
	// owner process, and a page id it does not know is not found.
	jar, _ := cookiejar.New(nil)
	u2, _ := url.Parse(p2.URL)
	jar.SetCookies(u2, []*http.Cookie{{Name: pluginset.DefaultSessionCookie, Value: conn}})
	other := &counterClient{http: &http.Client{Jar: jar}, base: p2.URL, pageID: c.pageID}
	if code, _, err := other.rpc("get"); err != nil || code == http.StatusOK {
		t.Errorf("process 2 answered %d for process 1's page (err %v)", code, err)
	}
	if !strings.HasSuffix(c.pageID, "|p01") {
		t.Errorf("page id %q", c.pageID)
	}
}

// TestGuestMintedForTheRing: behind the local balancer (X-Gnr-Ring names the processes)
// a process mints guests whose route key the ring assigns to itself, and answers who it
// is in X-Gnr-Process.
func TestGuestMintedForTheRing(t *testing.T) {
	file := counterSet(t, t.TempDir(), "ring", "resident", "")
	_, p2 := startProcess(t, file, 2)
	ring := balancer.NewRing(1, 2, 3)
	for range 20 {
		req, _ := http.NewRequest(http.MethodGet, p2.URL+"/_gnr/connection", nil)
		req.Header.Set(balancer.RingHeader, ring.Header())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get(balancer.ProcessHeader); got != "02" {
			t.Fatalf("X-Gnr-Process %q, want 02", got)
		}
		var key string
		for _, c := range resp.Cookies() {
			if c.Name == session.RouteCookie(pluginset.DefaultSessionCookie) {
				key = c.Value
			}
		}
		if owner, _ := ring.Pick(key); owner != 2 {
			t.Fatalf("guest %q minted by process 2 is owned by %d", key, owner)
		}
	}
}
