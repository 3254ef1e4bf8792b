package host_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/host"
	"github.com/gnrhost/gnrhost/host/pluginset"
	"github.com/gnrhost/gnrhost/internal/testpeer"
)

// todoSet writes a set serving the WAT todo example at /todo with lifecycle.
func todoSet(t *testing.T, dir, name, lifecycle string) string {
	t.Helper()
	module := filepath.Join(testpeer.ModuleRoot(t), "examples/pages/todo/wat/todo.wasm")
	yml := fmt.Sprintf("name: %s\nregistry: {plugin: registry-mem}\nwasm: {cache_dir: %s}\npages:\n  - {route: /todo, module: %s, lifecycle: %s}\n",
		name, filepath.Join(dir, "cache"), module, lifecycle)
	path := filepath.Join(dir, name+".yaml")
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

type todoUser struct {
	http   *http.Client
	base   string
	pageID string
	jar    http.CookieJar
}

func openTodo(t testing.TB, base string) *todoUser {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	u := &todoUser{http: &http.Client{Jar: jar}, base: base, jar: jar}
	resp, err := u.http.Get(base + "/todo")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("open todo: %v %v", err, resp)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	u.pageID = resp.Header.Get("X-Gnr-Page-Id")
	return u
}

func (u *todoUser) add(t testing.TB, text string) {
	t.Helper()
	body := fmt.Sprintf(`{"page_id":%q,"method":"add","params":{"text":%q}}`, u.pageID, text)
	resp, err := u.http.Post(u.base+"/_gnr/rpc", "application/json", strings.NewReader(body))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("add %s: %v %v", text, err, resp)
	}
	resp.Body.Close()
}

// socket is a raw WebSocket client of one page.
type socket struct {
	conn net.Conn
	rd   io.Reader
}

func (u *todoUser) dial(t testing.TB) *socket {
	t.Helper()
	base, _ := url.Parse(u.base)
	var cookies []string
	for _, c := range u.jar.Cookies(base) {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	d := ws.Dialer{Header: ws.HandshakeHeaderHTTP(http.Header{"Cookie": {strings.Join(cookies, "; ")}}), Timeout: 5 * time.Second}
	conn, br, _, err := d.Dial(context.Background(), "ws://"+base.Host+"/_gnr/ws?page_id="+u.pageID)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	s := &socket{conn: conn, rd: conn}
	if br != nil {
		s.rd = io.MultiReader(br, conn) // frames that came with the handshake answer
	}
	return s
}

// next returns the next frame; a closed socket fails the test with what closed it.
func (s *socket) next(t testing.TB) map[string]any {
	t.Helper()
	_ = s.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	data, err := wsutil.ReadServerText(struct {
		io.Reader
		io.Writer
	}{s.rd, s.conn})
	if err != nil {
		t.Fatalf("socket: %v", err)
	}
	var f map[string]any
	json.Unmarshal(data, &f)
	return f
}

// TestSwapKeepsWebSockets: a page's socket stays open across swaps resident <->
// ephemeral and keeps receiving pushes, numbered without a gap.
func TestSwapKeepsWebSockets(t *testing.T) {
	dir := t.TempDir()
	resident := todoSet(t, dir, "resident", "resident")
	ephemeral := todoSet(t, dir, "ephemeral", "ephemeral")
	rt, srv := startRuntime(t, resident)
	alice, bob := openTodo(t, srv.URL), openTodo(t, srv.URL)
	sock := bob.dial(t)
	if f := sock.next(t); f["type"] != "hello" {
		t.Fatalf("first frame %v", f)
	}
	files := []string{ephemeral, resident}
	var lastSeq float64
	for i := range 6 {
		text := fmt.Sprintf("item-%d", i)
		alice.add(t, text)
		for {
			f := sock.next(t)
			if f["type"] != "push" {
				t.Fatalf("frame %v, want a push", f)
			}
			seq, _ := f["seq"].(float64)
			if seq != lastSeq+1 {
				t.Fatalf("push seq %v after %v: a gap", seq, lastSeq)
			}
			lastSeq = seq
			if strings.Contains(fmt.Sprint(f["data"]), text) {
				break
			}
		}
		if _, err := rt.Swap(context.Background(), files[i%2]); err != nil {
			t.Fatal(err)
		}
	}
	if n := rt.Status(context.Background()).WebSockets; n != 1 {
		t.Errorf("%d sockets open after the swaps, want bob's one", n)
	}
}

// TestOpenSocketKeepsPageAlive: a page with an open socket is not expired although its
// user sends nothing (the host touches its connection and page in the registry).
func TestOpenSocketKeepsPageAlive(t *testing.T) {
	dir := t.TempDir()
	file := todoSet(t, dir, "short", "resident")
	raw, _ := os.ReadFile(file)
	os.WriteFile(file, []byte(strings.Replace(string(raw), "registry: {plugin: registry-mem}",
		"registry: {plugin: registry-mem, config: {guest_connection_max_age: 1s, page_max_age: 1s, sweep_interval: 100ms}}", 1)), 0o600)
	rt, base := serveWithKeepalive(t, file, 200*time.Millisecond)
	watcher, idle := openTodo(t, base), openTodo(t, base)
	sock := watcher.dial(t)
	if f := sock.next(t); f["type"] != "hello" {
		t.Fatalf("first frame %v", f)
	}
	reg := rt.Current().Registry()
	gone := func(u *todoUser) bool {
		ok, err := reg.Exists(context.Background(), abi.ItemRef{Register: abi.RegisterPage, ID: u.pageID})
		return err == nil && !ok
	}
	// The page without a socket expires after its second; the one with a socket stays.
	deadline := time.Now().Add(10 * time.Second)
	for !gone(idle) {
		if time.Now().After(deadline) {
			t.Fatal("the idle page did not expire: the test's expiry settings are not in effect")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if gone(watcher) {
		t.Fatal("the page with an open socket expired")
	}
	// Time passing is what is tested here: three more expiry periods.
	time.Sleep(3 * time.Second)
	// Its socket still works: another user's item is pushed to it.
	adder := openTodo(t, base)
	adder.add(t, "still-here")
	for {
		f := sock.next(t)
		if f["type"] == "push" && strings.Contains(fmt.Sprint(f["data"]), "still-here") {
			break
		}
		if f["type"] == "reload" {
			t.Fatalf("the watcher was told to reload: %v", f)
		}
	}
}

// serveWithKeepalive serves the set in file on a loopback port with the keepalive
// round every every, until the test ends, and returns the runtime and its base URL.
func serveWithKeepalive(t *testing.T, file string, every time.Duration) (*host.Runtime, string) {
	t.Helper()
	set, err := pluginset.Load(file, swapCatalog.PluginSetCatalog())
	if err != nil {
		t.Fatal(err)
	}
	rt, err := host.NewRuntime(context.Background(), host.RuntimeOptions{Set: set, Catalog: swapCatalog,
		Logger: slog.New(slog.DiscardHandler), Keepalive: every})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- rt.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-served })
	return rt, "http://" + ln.Addr().String()
}
