package pages_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/host"
	"github.com/gnrhost/gnrhost/host/pluginset"
	"github.com/gnrhost/gnrhost/internal/testpeer"
	registrymem "github.com/gnrhost/gnrhost/plugins/registry-mem"
)

type testHost struct {
	*host.Host
	srv *httptest.Server
}

// startHost runs a real host (registry-mem in-process) with the given pages YAML, which
// may use MODULE for the test guest's path.
func startHost(t *testing.T, pagesYAML string) *testHost {
	t.Helper()
	module := testpeer.WAT(t, "guest", testpeer.PageGuestWAT)
	return startSet(t, "registry: {plugin: registry-mem}\nwasm: {cache_dir: off}\npages:\n"+strings.ReplaceAll(pagesYAML, "MODULE", module))
}

// startSet runs a real host for a whole plugin-set text.
func startSet(t *testing.T, yml string) *testHost {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "set.yaml")
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	cat := host.Catalog{Registries: map[string]abi.RegistryFactory{registrymem.Factory.Name: registrymem.Factory}}
	set, err := pluginset.Load(path, cat.PluginSetCatalog())
	if err != nil {
		t.Fatal(err)
	}
	h, err := host.New(context.Background(), host.Options{Set: set, Catalog: cat, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h.Handler())
	t.Cleanup(func() {
		srv.Close()
		if err := h.Close(context.Background()); err != nil {
			t.Errorf("close host: %v", err)
		}
	})
	return &testHost{Host: h, srv: srv}
}

// browser is one client with its own cookie jar (its own connection).
type browser struct {
	t    *testing.T
	h    *testHost
	http *http.Client
}

func (h *testHost) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, h: h, http: &http.Client{Jar: jar}}
}

func (b *browser) open(route string) string {
	b.t.Helper()
	resp, err := b.http.Get(b.h.srv.URL + route)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	id := resp.Header.Get("X-Gnr-Page-Id")
	if resp.StatusCode != 200 || id == "" || !strings.Contains(string(body), `<meta name="gnr-page-id" content="`+id+`">`) {
		b.t.Fatalf("GET %s: %d %s", route, resp.StatusCode, body)
	}
	return id
}

func (b *browser) post(path, body string) (int, map[string]json.RawMessage) {
	b.t.Helper()
	resp, err := b.http.Post(b.h.srv.URL+path, "application/json", strings.NewReader(body))
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]json.RawMessage
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

func (b *browser) rpc(page, method, params string) (int, map[string]json.RawMessage) {
	b.t.Helper()
	return b.post("/_gnr/rpc", fmt.Sprintf(`{"page_id":%q,"method":%q,"params":%s}`, page, method, params))
}

func (b *browser) result(page, method, params string) string {
	b.t.Helper()
	code, out := b.rpc(page, method, params)
	if code != 200 || out["error"] != nil {
		b.t.Fatalf("rpc %s: %d %v", method, code, out)
	}
	return string(out["result"])
}

func TestLifecyclesKeepState(t *testing.T) {
	h := startHost(t, "  - {route: /e, module: MODULE, lifecycle: ephemeral}\n  - {route: /r, module: MODULE, lifecycle: resident}\n")
	b := h.browser(t)
	ctx := context.Background()
	for _, route := range []string{"/e", "/r"} {
		id := b.open(route)
		if got := b.result(id, "get", `{}`); got != "null" {
			t.Fatalf("%s: fresh page store: %s", route, got)
		}
		b.result(id, "set", `{"v":1}`)
		if got := b.result(id, "get", `{}`); got != `{"v":1}` {
			t.Fatalf("%s: after set: %s", route, got)
		}
		stored, _, err := h.Registry().GetData(ctx, abi.ItemRef{Register: abi.RegisterPage, ID: id}, "k")
		if err != nil {
			t.Fatal(err)
		}
		// Ephemeral pages keep their store in the registry; resident pages in the host.
		if ephemeral := route == "/e"; ephemeral != (string(stored) == `{"v":1}`) {
			t.Fatalf("%s: registry store = %q", route, stored)
		}
	}
	if n := h.Pages().ResidentCount(); n != 1 {
		t.Fatalf("resident pages = %d, want 1", n)
	}
}

func TestOwnershipAndBadInput(t *testing.T) {
	h := startHost(t, "  - {route: /e, module: MODULE}\n  - {route: /r, module: MODULE, lifecycle: resident}\n")
	alice, mallory := h.browser(t), h.browser(t)
	mallory.open("/e") // a connection of her own
	for _, route := range []string{"/e", "/r"} {
		id := alice.open(route)
		if code, _ := mallory.rpc(id, "get", `{}`); code != http.StatusForbidden {
			t.Errorf("%s: foreign page rpc: %d, want 403", route, code)
		}
		if code, _ := mallory.post("/_gnr/close", fmt.Sprintf(`{"page_id":%q}`, id)); code != http.StatusForbidden {
			t.Errorf("%s: foreign page close: %d, want 403", route, code)
		}
		stranger := &browser{t: t, h: h, http: &http.Client{}}
		if code, _ := stranger.rpc(id, "get", `{}`); code != http.StatusForbidden {
			t.Errorf("%s: rpc without cookie: %d, want 403", route, code)
		}
		cases := []struct {
			body string
			want int
		}{
			{`{"page_id":"` + id + `","method":"get","params":[1]}`, 400},
			{`{"page_id":"` + id + `","method":"get","params":{}`, 400},
			{`{"page_id":"` + id + `","method":"no spaces","params":{}}`, 400},
			{`{"page_id":"short","method":"get"}`, 400},
			{`{"page_id":"` + id + `","method":"get","extra":1}`, 400},
			{`{"page_id":"AAAAAAAAAAAAAAAAAAAAAA","method":"get"}`, 404},
			{`{"page_id":"` + id + `","method":"get","params":{"x":"` + strings.Repeat("a", 2<<20) + `"}}`, 413},
		}
		for _, c := range cases {
			if code, out := alice.post("/_gnr/rpc", c.body); code != c.want {
				t.Errorf("%s: body %.80s: %d %v, want %d", route, c.body, code, out, c.want)
			}
		}
	}
}

func TestFailuresChangeNothing(t *testing.T) {
	h := startHost(t, "  - {route: /e, module: MODULE, timeout: 200ms, memory_limit_mb: 2}\n  - {route: /r, module: MODULE, lifecycle: resident, timeout: 200ms, memory_limit_mb: 2}\n")
	b := h.browser(t)
	for _, route := range []string{"/e", "/r"} {
		id := b.open(route)
		b.result(id, "set", `{"v":1}`)
		code, out := b.rpc(id, "fail", `{}`)
		if code != 200 || !strings.Contains(string(out["error"]), `"code":"guest_error"`) {
			t.Fatalf("%s: guest error: %d %v", route, code, out)
		}
		for method, want := range map[string]int{"trap": 500, "loop": 504, "mem": 500} {
			start := time.Now()
			if code, out := b.rpc(id, method, `{}`); code != want {
				t.Fatalf("%s: %s: %d %v, want %d", route, method, code, out, want)
			}
			if took := time.Since(start); took > 3*time.Second {
				t.Fatalf("%s: %s took %s", route, method, took)
			}
		}
		if got := b.result(id, "get", `{}`); got != `{"v":1}` {
			t.Fatalf("%s: store after failures = %s, want the value before them", route, got)
		}
	}
}

// A publish reaches every subscribed page: its event entry runs and its push lands in
// the page's outbox, in both lifecycles and across users.
func TestEventsReachSubscribedPages(t *testing.T) {
	h := startHost(t, "  - {route: /e, module: MODULE}\n  - {route: /r, module: MODULE, lifecycle: resident}\n")
	alice, bob := h.browser(t), h.browser(t)
	publisher := alice.open("/e")
	receivers := []string{alice.open("/r"), bob.open("/e"), bob.open("/r")}
	waits := map[string]<-chan struct{}{}
	for _, id := range receivers {
		_, _, wait := h.Pages().Pushes(id, 0)
		waits[id] = wait
	}
	alice.result(publisher, "pub", `{}`)
	for _, id := range receivers {
		select {
		case <-waits[id]:
		case <-time.After(5 * time.Second):
			t.Fatalf("page %s got no push", id)
		}
		pushes, complete, _ := h.Pages().Pushes(id, 0)
		if !complete || len(pushes) != 1 || pushes[0].Seq != 1 || !strings.Contains(string(pushes[0].Data), `"table":"t.x"`) {
			t.Fatalf("page %s pushes %+v", id, pushes)
		}
	}
	// The publisher's next RPC carries the dbevent datachange the registry recorded.
	_, out := alice.rpc(publisher, "get", `{}`)
	if !strings.Contains(string(out["datachanges"]), `"path":"gnr.dbchanges.t_x"`) {
		t.Fatalf("datachanges %s", out["datachanges"])
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	// Three default sweep intervals (5 s): a page of an expired connection is found by
	// the sweep, and a loaded machine delays it.
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func closedReason(t *testing.T, h *testHost) string {
	v, ok, err := h.Registry().GetData(context.Background(), abi.ItemRef{Register: abi.RegisterGlobal, ID: abi.GlobalItemID}, "closed")
	if err != nil || !ok {
		return ""
	}
	return string(v)
}

func TestResidentIdleTTL(t *testing.T) {
	h := startHost(t, "  - {route: /r, module: MODULE, lifecycle: resident, idle_ttl: 100ms}\n")
	b := h.browser(t)
	id := b.open("/r")
	waitFor(t, "idle page closed", func() bool { return h.Pages().ResidentCount() == 0 })
	if got := closedReason(t, h); got != `{"reason":"idle"}` {
		t.Fatalf("close input = %q", got)
	}
	if code, _ := b.rpc(id, "get", `{}`); code != 404 {
		t.Fatalf("rpc on idle-closed page: %d, want 404", code)
	}
}

func TestResidentClosedWithConnection(t *testing.T) {
	h := startHost(t, "  - {route: /r, module: MODULE, lifecycle: resident}\n")
	b := h.browser(t)
	id := b.open("/r")
	item, err := h.Registry().GetItem(context.Background(), abi.ItemRef{Register: abi.RegisterPage, ID: id}, false)
	if err != nil {
		t.Fatal(err)
	}
	// The registry expires the connection (here: drops it, as its sweeper would).
	if err := h.Registry().DropItem(context.Background(), abi.ItemRef{Register: abi.RegisterConnection, ID: item.ConnectionID}, true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "page of expired connection closed", func() bool { return h.Pages().ResidentCount() == 0 })
	if got := closedReason(t, h); got != `{"reason":"connection_expired"}` {
		t.Fatalf("close input = %q", got)
	}
}

func TestResidentCapPerConnection(t *testing.T) {
	h := startHost(t, "  - {route: /r, module: MODULE, lifecycle: resident, max_per_connection: 2}\n")
	b := h.browser(t)
	first := b.open("/r")
	b.open("/r")
	third := b.open("/r")
	if n := h.Pages().ResidentCount(); n != 2 {
		t.Fatalf("resident pages = %d, want 2", n)
	}
	if code, _ := b.rpc(first, "get", `{}`); code != 404 {
		t.Fatalf("least recently used page still answers: %d", code)
	}
	b.result(third, "get", `{}`)
}

func TestCloseEndpoint(t *testing.T) {
	h := startHost(t, "  - {route: /e, module: MODULE}\n  - {route: /r, module: MODULE, lifecycle: resident}\n")
	b := h.browser(t)
	for _, route := range []string{"/e", "/r"} {
		id := b.open(route)
		if code, out := b.post("/_gnr/close", fmt.Sprintf(`{"page_id":%q}`, id)); code != 200 {
			t.Fatalf("%s: close: %d %v", route, code, out)
		}
		if got := closedReason(t, h); got != `{"reason":"client"}` {
			t.Fatalf("%s: close input = %q", route, got)
		}
		if code, _ := b.rpc(id, "get", `{}`); code != 404 {
			t.Fatalf("%s: rpc after close: %d", route, code)
		}
		_ = h.Registry().DeleteData(context.Background(), abi.ItemRef{Register: abi.RegisterGlobal, ID: abi.GlobalItemID}, "closed")
	}
}
