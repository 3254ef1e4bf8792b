package ws_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/host"
	"github.com/gnrhost/gnrhost/host/pluginset"
	"github.com/gnrhost/gnrhost/internal/testpeer"
	registrymem "github.com/gnrhost/gnrhost/plugins/registry-mem"

	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
)

func startTodoHost(t *testing.T, lifecycle string) (*host.Host, string) {
	t.Helper()
	module := filepath.Join(testpeer.ModuleRoot(t), "examples/pages/todo/rust/todo.wasm")
	yml := "registry: {plugin: registry-mem}\nwasm: {cache_dir: off}\npages:\n  - {route: /todo, module: " + module + ", lifecycle: " + lifecycle + "}\n"
	path := filepath.Join(t.TempDir(), "set.yaml")
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
		_ = h.Close(context.Background())
		srv.Close()
	})
	return h, srv.URL
}

// The todo example open for two users in real browsers: an item one adds appears in the
// other's page through a push within 1 s; a reload keeps working; a connection that is
// cut and restored resumes without losing the push sent meanwhile.
func TestTodoInChromium(t *testing.T) {
	browser := testpeer.Chromium(t)
	for _, lifecycle := range []string{"resident", "ephemeral"} {
		t.Run(lifecycle, func(t *testing.T) {
			h, base := startTodoHost(t, lifecycle)
			alice, bob := testpeer.Browser(t, browser), testpeer.Browser(t, browser)
			for _, c := range []context.Context{alice, bob} {
				testpeer.Run(t, c, "open todo", chromedp.Navigate(base+"/todo"))
				testpeer.WaitJS(t, c, "socket open", `window.gnr && gnr.connected`, 10*time.Second)
			}
			testpeer.TodoAdd(t, alice, "milk")
			if took := testpeer.WaitJS(t, bob, "milk reaches bob", testpeer.TodoHas("milk"), time.Second); took > time.Second {
				t.Fatalf("push took %s", took)
			}

			testpeer.Run(t, bob, "reload", chromedp.Reload())
			testpeer.WaitJS(t, bob, "socket open after reload", `window.gnr && gnr.connected && `+testpeer.TodoHas("milk"), 10*time.Second)
			testpeer.TodoAdd(t, alice, "eggs")
			testpeer.WaitJS(t, bob, "eggs reach reloaded bob", testpeer.TodoHas("eggs"), time.Second)

			// Cut bob's connection; while his client waits to reconnect (its first retry is
			// 250 ms or more away), a third user adds an item from plain HTTP.
			testpeer.WaitJS(t, bob, "mark the document", `(window.__sameDocument = true)`, time.Second)
			carol := &webClient{t: t, base: base}
			carolPage := carol.open("/todo")
			h.WebSocket().Disconnect()
			carol.rpc(carolPage, "add", `{"text":"bread"}`)
			testpeer.WaitJS(t, bob, "bread reaches bob by resume", testpeer.TodoHas("bread"), 15*time.Second)
			testpeer.WaitJS(t, alice, "alice sees bread", testpeer.TodoHas("bread"), 2*time.Second)
			checkCtx, cancel := context.WithTimeout(bob, 5*time.Second)
			defer cancel()
			resumed, err := chromedp.Run(checkCtx, chromedp.Evaluate[bool](`window.__sameDocument === true && gnr.stats.resumes >= 1`))
			if err != nil || !resumed {
				t.Fatal("bob's page did not resume on the same document")
			}
		})
	}
}

// webClient is a plain HTTP user of the site (no browser).
type webClient struct {
	t    *testing.T
	base string
	c    *http.Client
}

func (w *webClient) open(route string) string {
	w.t.Helper()
	if w.c == nil {
		jar, _ := cookiejar.New(nil)
		w.c = &http.Client{Jar: jar}
	}
	resp, err := w.c.Get(w.base + route)
	if err != nil {
		w.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.Header.Get("X-Gnr-Page-Id")
}

func (w *webClient) rpc(page, method, params string) {
	w.t.Helper()
	resp, err := w.c.Post(w.base+"/_gnr/rpc", "application/json", strings.NewReader(`{"page_id":"`+page+`","method":"`+method+`","params":`+params+`}`))
	if err != nil {
		w.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		w.t.Fatalf("rpc %s: %d", method, resp.StatusCode)
	}
}
