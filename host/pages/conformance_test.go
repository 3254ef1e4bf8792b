package pages_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gnrhost/gnrhost/internal/testpeer"
)

// languages whose builds of both example pages must pass the conformance scenario.
var languages = []string{"go", "c", "rust", "assemblyscript", "wat"}

const counterHTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>Counter</title></head>
<body data-gnr-example="counter">
<h1>Counter</h1>
<p>This page: <span id="count">%d</span> &middot; all your pages: <span id="total">%d</span></p>
<button id="inc">+1</button>
<script src="/_gnr/client.js"></script>
<script src="/_gnr/examples/counter.js"></script>
</body></html>
`

const todoHTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>Todo</title></head>
<body data-gnr-example="todo">
<h1>Todo</h1>
<ul id="items"></ul>
<input id="text" placeholder="New item"> <button id="add">Add</button>
<script src="/_gnr/client.js"></script>
<script src="/_gnr/examples/todo.js"></script>
</body></html>
`

var metaRE = regexp.MustCompile(`<meta name="gnr-page-id" content="[^"]*">`)

func (b *browser) openHTML(route string) (string, string) {
	b.t.Helper()
	resp, err := b.http.Get(b.h.srv.URL + route)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	if _, err := fmt.Fprint(&sb, ""); err != nil {
		b.t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	if resp.StatusCode != 200 {
		b.t.Fatalf("GET %s: %d %s", route, resp.StatusCode, sb.String())
	}
	return resp.Header.Get("X-Gnr-Page-Id"), metaRE.ReplaceAllString(sb.String(), "")
}

func (b *browser) wantResult(page, method, params, want string) {
	b.t.Helper()
	if got := b.result(page, method, params); !jsonEqual(got, want) {
		b.t.Fatalf("%s %s: result %s, want %s", method, params, got, want)
	}
}

func (b *browser) wantError(page, method, params, want string) {
	b.t.Helper()
	code, out := b.rpc(page, method, params)
	if code != 200 || !jsonEqual(string(out["error"]), want) {
		b.t.Fatalf("%s %s: %d error %s, want %s", method, params, code, out["error"], want)
	}
}

func jsonEqual(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return string(xb) == string(yb)
}

// waitPush waits for the page's push number seq and returns its data.
func (h *testHost) waitPush(t *testing.T, page string, seq uint64) string {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		pushes, _, wait := h.Pages().Pushes(page, seq-1)
		if len(pushes) > 0 {
			return string(pushes[0].Data)
		}
		select {
		case <-wait:
		case <-deadline:
			t.Fatalf("page %s: no push %d", page, seq)
		}
	}
}

// TestConformance runs one scenario against every language's build of both example
// pages, in both lifecycles, and expects the same answers from all.
func TestConformance(t *testing.T) {
	root := testpeer.ModuleRoot(t)
	cache := t.TempDir()
	// goplugin: the Go examples as native page plugins (abi/pagerpc), built here.
	for _, lang := range append(slices.Clip(languages), "goplugin") {
		for _, lifecycle := range []string{"ephemeral", "resident"} {
			t.Run(lang+"/"+lifecycle, func(t *testing.T) {
				kind := "module"
				counter := filepath.Join(root, "examples/pages/counter", lang, "counter.wasm")
				todo := filepath.Join(root, "examples/pages/todo", lang, "todo.wasm")
				if lang == "goplugin" {
					kind = "plugin"
					counter = testpeer.GoBuild(t, "examples/pages/counter/goplugin")
					todo = testpeer.GoBuild(t, "examples/pages/todo/goplugin")
				}
				for _, f := range []string{counter, todo} {
					if _, err := os.Stat(f); err != nil {
						t.Fatalf("build missing: %v (run scripts/build-wasm.sh)", err)
					}
				}
				h := startSet(t, fmt.Sprintf("registry: {plugin: registry-mem}\nwasm: {cache_dir: %q}\npages:\n"+
					"  - {route: /counter, %[2]s: %[3]q, lifecycle: %[4]s}\n  - {route: /todo, %[2]s: %[5]q, lifecycle: %[4]s}\n",
					cache, kind, counter, lifecycle, todo))
				counterScenario(t, h)
				todoScenario(t, h)
			})
		}
	}
}

func counterScenario(t *testing.T, h *testHost) {
	b := h.browser(t)
	page, html := b.openHTML("/counter")
	if html != fmt.Sprintf(counterHTML, 0, 0) {
		t.Fatalf("counter HTML:\n%s", html)
	}
	b.wantResult(page, "increment", `{}`, `{"count":1,"total":1}`)
	code, out := b.rpc(page, "increment", `{}`)
	if code != 200 || !jsonEqual(string(out["result"]), `{"count":2,"total":2}`) || !jsonEqual(string(out["datachanges"]), `[{"path":"count","value":2}]`) {
		t.Fatalf("second increment: %d %s %s", code, out["result"], out["datachanges"])
	}
	b.wantResult(page, "get", `{}`, `{"count":2,"total":2}`)
	other, html := b.openHTML("/counter")
	if html != fmt.Sprintf(counterHTML, 0, 2) {
		t.Fatalf("second counter page HTML:\n%s", html)
	}
	b.wantResult(other, "increment", `{}`, `{"count":1,"total":3}`)
	b.wantResult(page, "get", `{}`, `{"count":2,"total":3}`)
	b.wantError(page, "nope", `{}`, `{"code":"unknown_method","message":"unknown method: nope"}`)
	b.wantResult(page, "get", `{"ignored":[1,2]}`, `{"count":2,"total":3}`)
	if code, _ := b.post("/_gnr/close", fmt.Sprintf(`{"page_id":%q}`, page)); code != 200 {
		t.Fatalf("close: %d", code)
	}
	if code, _ := b.rpc(page, "get", `{}`); code != 404 {
		t.Fatalf("rpc after close: %d", code)
	}
}

func todoScenario(t *testing.T, h *testHost) {
	alice, bob := h.browser(t), h.browser(t)
	a, html := alice.openHTML("/todo")
	if html != todoHTML {
		t.Fatalf("todo HTML:\n%s", html)
	}
	bp, _ := bob.openHTML("/todo")
	alice.wantResult(a, "list", `{}`, `{"items":[]}`)
	alice.wantResult(a, "add", `{"text":"milk"}`, `{"items":[{"text":"milk"}]}`)
	want := `{"type":"todo.items","items":[{"text":"milk"}]}`
	for _, p := range []string{a, bp} {
		if got := h.waitPush(t, p, 1); !jsonEqual(got, want) {
			t.Fatalf("push to %s: %s, want %s", p, got, want)
		}
	}
	bob.wantResult(bp, "add", `{"text":"eggs \"large\""}`, `{"items":[{"text":"milk"},{"text":"eggs \"large\""}]}`)
	want = `{"type":"todo.items","items":[{"text":"milk"},{"text":"eggs \"large\""}]}`
	if got := h.waitPush(t, a, 2); !jsonEqual(got, want) {
		t.Fatalf("second push: %s", got)
	}
	for _, bad := range []string{`{}`, `{"text":""}`, `{"text":5}`, `{"other":"x"}`} {
		alice.wantError(a, "add", bad, `{"code":"bad_params","message":"add needs a non-empty text"}`)
	}
	alice.wantResult(a, "list", `{}`, `{"items":[{"text":"milk"},{"text":"eggs \"large\""}]}`)
	bob.wantError(bp, "remove", `{}`, `{"code":"unknown_method","message":"unknown method: remove"}`)
	if code, _ := alice.post("/_gnr/close", fmt.Sprintf(`{"page_id":%q}`, a)); code != 200 {
		t.Fatalf("close: %d", code)
	}
	_ = context.Background()
}
