package host_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/host"
	"github.com/gnrhost/gnrhost/host/ipc"
	"github.com/gnrhost/gnrhost/host/pluginset"
	"github.com/gnrhost/gnrhost/host/session"
	"github.com/gnrhost/gnrhost/internal/testpeer"
)

const notifyToken = "notify-token-0123456789"

// natsTodoSet writes the todo set of a site whose processes share the NATS server at url.
func natsTodoSet(t testing.TB, dir, url string) string {
	t.Helper()
	return natsPageSet(t, dir, url, "todo", "")
}

// natsPageSet writes a set serving the WAT example page at /<example>, resident, with
// routeExtra added to its route (", persist: true"), on the NATS server at url.
func natsPageSet(t testing.TB, dir, url, example, routeExtra string) string {
	t.Helper()
	module := filepath.Join(testpeer.ModuleRoot(t), "examples/pages", example, "wat", example+".wasm")
	yml := fmt.Sprintf("name: shop\nregistry: {plugin: registry-mem}\nwasm: {cache_dir: %s}\n"+
		"pages:\n  - {route: /%s, module: %s, lifecycle: resident%s}\n"+
		"ipc: {backend: nats, url: %q}\n"+
		"session: {secret_env: GNRHOST_TEST_SECRET}\nevents: {token_env: GNRHOST_TEST_EVENTS}\n",
		filepath.Join(dir, "cache"), example, module, routeExtra, url)
	path := filepath.Join(dir, "shop.yaml")
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startProcess runs host process n of the site in file, as a balancer's child would.
func startProcess(t testing.TB, file string, n int) (*host.Runtime, *httptest.Server) {
	t.Helper()
	set, err := pluginset.Load(file, swapCatalog.PluginSetCatalog())
	if err != nil {
		t.Fatal(err)
	}
	rt, err := host.NewRuntime(context.Background(), host.RuntimeOptions{Set: set, Catalog: swapCatalog,
		Logger: slog.New(slog.DiscardHandler), Process: session.Process(n)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rt)
	t.Cleanup(func() {
		srv.Close()
		if err := rt.Close(context.Background()); err != nil {
			t.Errorf("close process %d: %v", n, err)
		}
	})
	return rt, srv
}

func twoNATSProcesses(t testing.TB, url string) (rt1, rt2 *host.Runtime, base1, base2 string) {
	t.Helper()
	file := natsTodoSet(t, t.TempDir(), url)
	rt1, s1 := startProcess(t, file, 1)
	rt2, s2 := startProcess(t, file, 2)
	return rt1, rt2, s1.URL, s2.URL
}

// nextOfType returns the socket's next frame, failing on any frame of another type.
func (s *socket) nextOfType(t testing.TB, typ string) map[string]any {
	t.Helper()
	f := s.next(t)
	if f["type"] != typ {
		t.Fatalf("frame %v; want a %s frame", f, typ)
	}
	return f
}

// checkCrossProcessTodo: alice adds an item on process 1; bob's page on process 2 gets
// the dbevent and pushes the list it reads from the global register, which is the shared
// one: the push names alice's item.
func checkCrossProcessTodo(t *testing.T, url string) {
	t.Setenv("GNRHOST_TEST_SECRET", "0123456789abcdef0123")
	t.Setenv("GNRHOST_TEST_EVENTS", notifyToken)
	_, rt2, base1, base2 := twoNATSProcesses(t, url)
	alice, bob := openTodo(t, base1), openTodo(t, base2)
	if !strings.HasSuffix(alice.pageID, "|p01") || !strings.HasSuffix(bob.pageID, "|p02") {
		t.Fatalf("page ids %q %q", alice.pageID, bob.pageID)
	}
	sock := bob.dial(t)
	sock.nextOfType(t, "hello")
	for _, text := range []string{"from-p1", "again-p1"} {
		alice.add(t, text)
		push := sock.nextOfType(t, "push")
		raw, _ := json.Marshal(push["data"])
		if !strings.Contains(string(raw), text) {
			t.Fatalf("process 2's push %s does not name %q", raw, text)
		}
	}
	v, ok, err := rt2.Current().Registry().GetData(context.Background(), abi.ItemRef{Register: abi.RegisterGlobal, ID: abi.GlobalItemID}, "todo.items")
	if err != nil || !ok || !strings.Contains(string(v), "again-p1") {
		t.Fatalf("process 2's global todo.items = %s %v %v", v, ok, err)
	}
}

func TestCrossProcessDbEvents(t *testing.T) {
	checkCrossProcessTodo(t, testpeer.EmbeddedNATS(t))
}

// TestCrossProcessDbEventsNATSServer: the same against Debian's nats-server binary.
func TestCrossProcessDbEventsNATSServer(t *testing.T) {
	checkCrossProcessTodo(t, testpeer.NATSServer(t))
}

func whoAmI(t *testing.T, u *todoUser) string {
	t.Helper()
	resp, err := u.http.Get(u.base + "/_gnr/connection")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		User string `json:"user"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.User == "" {
		t.Fatalf("who am I: %v %+v", err, out)
	}
	return out.User
}

func postNotify(t *testing.T, base, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/_gnr/notify", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+notifyToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

// TestCrossProcessNotify: a notice for bob posted to process 1 reaches bob's sockets on
// process 2 and nobody else's; a broadcast reaches every socket of both processes.
func TestCrossProcessNotify(t *testing.T) {
	t.Setenv("GNRHOST_TEST_SECRET", "0123456789abcdef0123")
	t.Setenv("GNRHOST_TEST_EVENTS", notifyToken)
	_, _, base1, base2 := twoNATSProcesses(t, testpeer.EmbeddedNATS(t))
	alice, bob, carol := openTodo(t, base1), openTodo(t, base2), openTodo(t, base2)
	bobUser := whoAmI(t, bob)
	socks := map[string]*socket{"alice": alice.dial(t), "bob": bob.dial(t), "carol": carol.dial(t)}
	for _, s := range socks {
		s.nextOfType(t, "hello")
	}
	code, out := postNotify(t, base1, fmt.Sprintf(`{"user":%q,"payload":{"text":"for bob"}}`, bobUser))
	if code != 200 || out["published"] != true || out["local_sockets"] != 0.0 {
		t.Fatalf("notify: %d %v", code, out)
	}
	f := socks["bob"].nextOfType(t, "notify")
	if f["user"] != bobUser || f["broadcast"] != nil || fmt.Sprint(f["payload"]) != "map[text:for bob]" {
		t.Fatalf("bob's notice %v", f)
	}
	code, out = postNotify(t, base1, `{"broadcast":true,"payload":"to all"}`)
	if code != 200 || out["published"] != true || out["local_sockets"] != 1.0 {
		t.Fatalf("broadcast: %d %v", code, out)
	}
	// Each socket's next frame is the broadcast: alice and carol never got bob's notice.
	for name, s := range socks {
		if f := s.nextOfType(t, "notify"); f["broadcast"] != true || f["payload"] != "to all" {
			t.Fatalf("%s's frame %v; want the broadcast", name, f)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, base1+"/_gnr/notify", strings.NewReader(`{"broadcast":true,"payload":1}`))
	req.Header.Set("Authorization", "Bearer not-the-token-0123456789")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("notify with a wrong token: %v %v; want 401", err, resp)
	} else {
		resp.Body.Close()
	}
	for _, bad := range []struct {
		body, why string
		code      int
	}{
		{`{"payload":1}`, "neither user nor broadcast", 400},
		{`{"user":"x","broadcast":true,"payload":1}`, "both", 400},
		{`{"user":"x"}`, "no payload", 400},
		{`{"user":"x","payload":"` + strings.Repeat("a", 65<<10) + `"}`, "payload over 64 KiB", 413},
		{`{"user":"x","payload":"` + strings.Repeat("a", 70<<10) + `"}`, "body over the limit", 413},
	} {
		if code, out := postNotify(t, base2, bad.body); code != bad.code {
			t.Errorf("%s: %d %v; want %d", bad.why, code, out, bad.code)
		}
	}
}

// TestSingleProcessEmbedsNATS: `ipc: {backend: nats}` with no URL anywhere and one
// process starts an embedded server in the process (here through host.New, which owns
// its link when no Runtime hands it one); pages work, the global store is the bucket's.
func TestSingleProcessEmbedsNATS(t *testing.T) {
	t.Setenv(ipc.EnvURL, "")
	t.Setenv("GNRHOST_TEST_EVENTS", notifyToken)
	dir := t.TempDir()
	file := natsTodoSet(t, dir, "")
	set, err := pluginset.Load(file, swapCatalog.PluginSetCatalog())
	if err != nil {
		t.Fatal(err)
	}
	h, err := host.New(context.Background(), host.Options{Set: set, Catalog: swapCatalog, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h.Handler())
	t.Cleanup(func() {
		srv.Close()
		if err := h.Close(context.Background()); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	if _, ok := h.Registry().(*ipc.Registry); !ok {
		t.Fatalf("registry %T; want the nats backend's", h.Registry())
	}
	alice, bob := openTodo(t, srv.URL), openTodo(t, srv.URL)
	sock := bob.dial(t)
	sock.nextOfType(t, "hello")
	alice.add(t, "local")
	sock.nextOfType(t, "push")
	keys, err := h.Registry().DataKeys(context.Background(), abi.ItemRef{Register: abi.RegisterGlobal, ID: abi.GlobalItemID})
	if err != nil || len(keys) != 1 || keys[0] != "todo.items" {
		t.Fatalf("global keys %v %v", keys, err)
	}
}
