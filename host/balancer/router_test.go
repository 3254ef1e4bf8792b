package balancer

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gnrhost/gnrhost/host/session"
)

func TestRoute(t *testing.T) {
	ring := NewRing(1, 2, 3)
	const cookie = "gnrhost_conn_route"
	owner, _ := ring.Pick("alice")
	pickAny := func() (int, bool) { return 3, true }
	none := func() (int, bool) { return 0, false }
	id := session.NewID()

	cases := []struct {
		name    string
		header  string // X-Gnr-Page-Id
		query   string // ?page_id=
		cookie  string
		pickAny func() (int, bool)
		want    Decision
	}{
		{name: "page header suffix", header: id + "|p02", cookie: "alice", want: Decision{2, ReasonPage}},
		{name: "page query suffix (websocket)", query: id + "|p01", want: Decision{1, ReasonPage}},
		{name: "header wins over query", header: id + "|p03", query: id + "|p01", want: Decision{3, ReasonPage}},
		{name: "suffix outside the ring falls to the cookie", header: id + "|p07", cookie: "alice", want: Decision{owner, ReasonCookie}},
		{name: "malformed suffix falls to the cookie", header: id + "|pxx", cookie: "alice", want: Decision{owner, ReasonCookie}},
		{name: "process 00 is no process", header: id + "|p00", cookie: "alice", want: Decision{owner, ReasonCookie}},
		{name: "id without suffix falls to the cookie", header: id, cookie: "alice", want: Decision{owner, ReasonCookie}},
		{name: "cookie only", cookie: "alice", want: Decision{owner, ReasonCookie}},
		{name: "nothing: any ready process", want: Decision{3, ReasonAny}},
		{name: "empty cookie: any ready process", cookie: "", want: Decision{3, ReasonAny}},
		{name: "nothing and nobody ready", pickAny: none, want: Decision{0, ReasonNone}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			target := "/_gnr/rpc"
			if c.query != "" {
				target = "/_gnr/ws?page_id=" + c.query
			}
			r := httptest.NewRequest(http.MethodPost, target, nil)
			if c.header != "" {
				r.Header.Set(PageIDHeader, c.header)
			}
			if c.cookie != "" {
				r.AddCookie(&http.Cookie{Name: cookie, Value: c.cookie})
			}
			pick := c.pickAny
			if pick == nil {
				pick = pickAny
			}
			if got := Route(r, cookie, ring, pick); got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

// The same user lands on the same process whatever else the request carries.
func TestRouteCookieIsSticky(t *testing.T) {
	ring := NewRing(1, 2, 3)
	for _, user := range []string{"guest_a", "guest_b", "bob", "carol"} {
		want, _ := ring.Pick(user)
		for _, path := range []string{"/counter", "/_gnr/rpc", "/_gnr/connection"} {
			r := httptest.NewRequest(http.MethodGet, path, nil)
			r.AddCookie(&http.Cookie{Name: "c_route", Value: user})
			if got := Route(r, "c_route", ring, func() (int, bool) { return 0, false }); got.Process != want {
				t.Errorf("%s %s: process %d, want %d", user, path, got.Process, want)
			}
		}
	}
}
