package host

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/host/pluginset"
	"github.com/gnrhost/gnrhost/internal/testpeer"
	registrymem "github.com/gnrhost/gnrhost/plugins/registry-mem"
)

// fakeLegacy is a legacy plugin whose site is a Go server on a unix socket the test
// starts (config {"addr": "unix:/..."}): the host's side of the legacy routes without
// gunicorn (cmd/gnrhost's tests run the real legacy-wsgi through the front too).
var fakeLegacy = abi.LegacyFactory{
	Name:        "legacy-fake",
	CheckConfig: func(json.RawMessage) error { return nil },
	New: func(_ context.Context, config json.RawMessage, _ string, _ *slog.Logger) (abi.LegacyApp, error) {
		var c struct{ Addr string }
		if err := json.Unmarshal(config, &c); err != nil {
			return nil, err
		}
		return fakeApp(c.Addr), nil
	},
}

type fakeApp string

func (a fakeApp) Address() string            { return string(a) }
func (fakeApp) Ping(context.Context) error   { return nil }
func (fakeApp) Reload(context.Context) error { return nil }
func (fakeApp) Close() error                 { return nil }
func legacyCatalog() Catalog {
	return Catalog{Registries: map[string]abi.RegistryFactory{registrymem.Factory.Name: registrymem.Factory},
		Legacy: map[string]abi.LegacyFactory{fakeLegacy.Name: fakeLegacy}}
}

// fakeSite serves h on a fresh unix socket and returns its address.
func fakeSite(t testing.TB, h http.Handler) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "site.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "unix:" + path
}

// siteNamed answers every request with its name in X-Site, the Host it got and the body.
func siteNamed(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Site", name)
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s host=%s body=%s", name, r.Method, r.RequestURI, r.Host, b)
	})
}

func legacySetYAML(t testing.TB, dir, name, addr, routes, extra string) string {
	t.Helper()
	module := filepath.Join(testpeer.ModuleRoot(t), "examples/pages/counter/wat/counter.wasm")
	yml := fmt.Sprintf("name: %s\nregistry: {plugin: registry-mem}\nwasm: {cache_dir: %s}\npages:\n  - {route: /counter, module: %s}\n"+
		"legacy: {plugin: legacy-fake, routes: %s, config: {addr: %q}}\n%s",
		name, filepath.Join(dir, "cache"), module, routes, addr, extra)
	path := filepath.Join(dir, name+".yaml")
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func legacyRuntime(t testing.TB, file string) *Runtime {
	t.Helper()
	cat := legacyCatalog()
	set, err := pluginset.Load(file, cat.PluginSetCatalog())
	if err != nil {
		t.Fatal(err)
	}
	rt, err := NewRuntime(context.Background(), RuntimeOptions{Set: set, Catalog: cat, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

// serveFront serves rt on a loopback port (the front is on unless FrontEnv says off)
// and returns the address and a stop function that returns Serve's result.
func serveFront(t testing.TB, rt *Runtime) (string, func() error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rt.Serve(ctx, ln) }()
	var once sync.Once
	var result error
	stop := func() error {
		once.Do(func() { cancel(); result = <-done })
		return result
	}
	t.Cleanup(func() { _ = stop() })
	return ln.Addr().String(), stop
}

// The front's predicate agrees with the chi router for every method and path in the
// table: the router's answer is whether the site answered (X-Site).
func TestLegacyRoutesAgreeWithRouter(t *testing.T) {
	dir := t.TempDir()
	addr := fakeSite(t, siteNamed("a"))
	paths := []string{"/", "/healthz", "/readyz", "/metrics", "/_gnr/connection", "/_gnr/client.js",
		"/_gnr/examples/todo.js", "/_gnr/examples/", "/_gnr/rpc", "/_gnr/close", "/_gnr/dbevents", "/_gnr/notify",
		"/_gnr/ws", "/_gnr/nope", "/counter", "/counter/", "/counter/x", "/app", "/app/", "/app/x/y", "/apple",
		"/old", "/old/x", "/other", "/a%2Fb", "/app%2Fx", "/app/%7Ex"}
	methods := []string{"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "PROPFIND"}
	for _, routes := range []string{`["/"]`, `["/app", "/old/"]`, `["/", "/app"]`} {
		t.Run(routes, func(t *testing.T) {
			rt := legacyRuntime(t, legacySetYAML(t, dir, "agree", addr, routes, ""))
			defer rt.Close(context.Background())
			h := rt.Current()
			if h.legacyRoutes == nil {
				t.Fatal("no legacy routes")
			}
			for _, m := range methods {
				for _, p := range paths {
					r := httptest.NewRequest(m, p, strings.NewReader(""))
					rec := httptest.NewRecorder()
					h.handler.ServeHTTP(rec, r)
					routed := rec.Header().Get("X-Site") != ""
					if got := h.legacyRoutes.match(m, r.URL); got != routed {
						t.Errorf("%s %s: predicate %v, router gave the proxy: %v (status %d)", m, p, got, routed, rec.Code)
					}
				}
			}
		})
	}
}

// rawExchange writes req on c and reads one answer.
func rawExchange(t *testing.T, c net.Conn, br *bufio.Reader, req string) (*http.Response, string) {
	t.Helper()
	if req != "" {
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
	}
	return readAnswer(t, br, "GET")
}

func readAnswer(t *testing.T, br *bufio.Reader, method string) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	resp.Body.Close()
	return resp, string(b)
}

func dialFront(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	return c, bufio.NewReader(c)
}

func TestFrontThroughRuntime(t *testing.T) {
	if !frontEnabled() {
		t.Skip(FrontEnv + "=off: net/http's answers differ (it takes Content-Length with chunked)")
	}
	dir := t.TempDir()
	seenHost := make(chan string, 16)
	site := fakeSite(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case seenHost <- r.Host:
		default:
		}
		siteNamed("a").ServeHTTP(w, r)
	}))
	rt := legacyRuntime(t, legacySetYAML(t, dir, "front", site, `["/"]`,
		"limits: {max_body_bytes: 1000, read_header_timeout: 500ms}\n"))
	addr, stop := serveFront(t, rt)

	t.Run("hand-over mid-connection, legacy first", func(t *testing.T) {
		c, br := dialFront(t, addr)
		resp, body := rawExchange(t, c, br, "GET /x?y=1 HTTP/1.1\r\nHost: h\r\n\r\n")
		if resp.Header.Get("X-Site") != "a" || body != "a GET /x?y=1 host=h body=" {
			t.Fatalf("legacy: %v %q", resp.Header, body)
		}
		resp, body = rawExchange(t, c, br, "GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n")
		if resp.StatusCode != 200 || !strings.Contains(body, "alive") {
			t.Fatalf("healthz after a legacy request: %d %q", resp.StatusCode, body)
		}
		// net/http owns the connection now and still proxies the legacy routes.
		if _, body = rawExchange(t, c, br, "GET /z HTTP/1.1\r\nHost: h\r\n\r\n"); body != "a GET /z host=h body=" {
			t.Fatalf("legacy after hand-over: %q", body)
		}
	})
	t.Run("hand-over, page route first", func(t *testing.T) {
		c, br := dialFront(t, addr)
		if resp, body := rawExchange(t, c, br, "GET /readyz HTTP/1.1\r\nHost: h\r\n\r\n"); resp.StatusCode != 200 {
			t.Fatalf("readyz: %d %q", resp.StatusCode, body)
		}
		if _, body := rawExchange(t, c, br, "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"); body != "a POST /p host=h body=abc" {
			t.Fatalf("legacy after a host endpoint: %q", body)
		}
	})
	t.Run("pipelined", func(t *testing.T) {
		c, br := dialFront(t, addr)
		io.WriteString(c, "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"+
			"POST /2 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-T: 1\r\n\r\n"+
			"HEAD /3 HTTP/1.1\r\nHost: h\r\n\r\n"+
			"GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n"+
			"GET /4 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
		for i, want := range []string{"a GET /1 host=h body=", "a POST /2 host=h body=abcde", "", `{"status":"alive"}`, "a GET /4 host=h body="} {
			method := "GET"
			if i == 2 {
				method = "HEAD"
			}
			resp, body := readAnswer(t, br, method)
			if strings.TrimSpace(body) != want || resp.StatusCode != 200 {
				t.Fatalf("answer %d: %d %q, want %q", i, resp.StatusCode, body, want)
			}
		}
		if _, err := br.ReadByte(); err != io.EOF {
			t.Fatalf("connection open after Connection: close: %v", err)
		}
	})
	t.Run("HTTP/1.0 without Host", func(t *testing.T) {
		for len(seenHost) > 0 {
			<-seenHost
		}
		c, br := dialFront(t, addr)
		resp, body := rawExchange(t, c, br, "GET /old HTTP/1.0\r\n\r\n")
		if body != "a GET /old host=legacy body=" || resp.Close != true {
			t.Fatalf("%v %q close=%v", resp.Status, body, resp.Close)
		}
		if h := <-seenHost; h != "legacy" {
			t.Errorf("site got Host %q", h)
		}
		if _, err := br.ReadByte(); err != io.EOF {
			t.Fatalf("HTTP/1.0 connection kept open: %v", err)
		}
		c2, br2 := dialFront(t, addr)
		io.WriteString(c2, "GET /k HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
		resp, _ = readAnswer(t, br2, "GET")
		if resp.Close || resp.Header.Get("Connection") != "keep-alive" {
			t.Fatalf("HTTP/1.0 keep-alive: close=%v %v", resp.Close, resp.Header)
		}
	})
	t.Run("smuggling and bad framing", func(t *testing.T) {
		for _, req := range []string{
			"POST /s HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
			"POST /s HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc",
			"POST /s HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
			"POST /s HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 4\r\n\r\nabcd",
			"POST /s HTTP/1.1\r\nHost: h\r\nContent-Length: -3\r\n\r\nabc",
			"POST /s HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
			"POST /s HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n0\r\n\r\n",
			"POST /s HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\nabc\r\n0\r\n\r\n",
		} {
			c, br := dialFront(t, addr)
			resp, body := rawExchange(t, c, br, req)
			if resp.StatusCode != 400 {
				t.Errorf("%q: %d %q", req, resp.StatusCode, body)
			}
			if !resp.Close {
				t.Errorf("%q: connection kept open after a 400", req)
			}
		}
		// Identical duplicates are one length (as net/http takes them).
		c, br := dialFront(t, addr)
		if _, body := rawExchange(t, c, br, "POST /d HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc"); body != "a POST /d host=h body=abc" {
			t.Errorf("duplicate equal Content-Length: %q", body)
		}
		// A coding other than chunked is net/http's to refuse (501).
		c, br = dialFront(t, addr)
		if resp, _ := rawExchange(t, c, br, "POST /g HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"); resp.StatusCode != 501 {
			t.Errorf("gzip coding: %d", resp.StatusCode)
		}
	})
	t.Run("body limit", func(t *testing.T) {
		c, br := dialFront(t, addr)
		resp, body := rawExchange(t, c, br, "POST /big HTTP/1.1\r\nHost: h\r\nContent-Length: 2000\r\n\r\n")
		if resp.StatusCode != 413 || !strings.Contains(body, `"limit_bytes":1000`) || !resp.Close {
			t.Fatalf("Content-Length over the limit: %d %q close=%v", resp.StatusCode, body, resp.Close)
		}
		c, br = dialFront(t, addr)
		io.WriteString(c, "POST /big HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
		for range 3 {
			fmt.Fprintf(c, "200\r\n%s\r\n", strings.Repeat("x", 512))
		}
		if resp, body := readAnswer(t, br, "POST"); resp.StatusCode != 413 {
			t.Fatalf("chunked body over the limit: %d %q", resp.StatusCode, body)
		}
	})
	t.Run("oversized head", func(t *testing.T) {
		c, br := dialFront(t, addr)
		resp, _ := rawExchange(t, c, br, "GET /x HTTP/1.1\r\nHost: h\r\nX-Big: "+strings.Repeat("b", 70<<10)+"\r\n\r\n")
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("%d, want 431", resp.StatusCode)
		}
	})
	t.Run("slowloris", func(t *testing.T) {
		c, _ := dialFront(t, addr)
		io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: h\r\n")
		start := time.Now()
		for {
			if _, err := io.WriteString(c, "X-A: b\r\n"); err != nil {
				break
			}
			_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			var b [1]byte
			if _, err := c.Read(b[:]); err == io.EOF {
				break
			}
			if time.Since(start) > 5*time.Second {
				t.Fatal("a head trickled in for 5 s, read_header_timeout is 500ms")
			}
		}
		if d := time.Since(start); d < 400*time.Millisecond {
			t.Errorf("closed after %v, before the header timeout", d)
		}
	})
	t.Run("upgrade goes to net/http", func(t *testing.T) {
		c, br := dialFront(t, addr)
		// The WebSocket path without a valid handshake: net/http's handler answers.
		resp, _ := rawExchange(t, c, br, "GET /_gnr/ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
		if resp.Header.Get("X-Site") != "" {
			t.Fatalf("the WebSocket path reached the site")
		}
	})
	if err := stop(); err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

// A legacy request in flight when shutdown starts completes (its answer says close);
// an idle connection is closed at once; Serve returns nil.
func TestFrontShutdownWithRequestInFlight(t *testing.T) {
	if !frontEnabled() {
		t.Skip(FrontEnv + "=off")
	}
	dir := t.TempDir()
	entered, release := make(chan struct{}, 1), make(chan struct{})
	site := fakeSite(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			entered <- struct{}{}
			<-release
		}
		io.WriteString(w, "done")
	}))
	rt := legacyRuntime(t, legacySetYAML(t, dir, "drain", site, `["/"]`, "shutdown_timeout: 10s\n"))
	addr, stop := serveFront(t, rt)

	idle, idleBr := dialFront(t, addr)
	if _, body := rawExchange(t, idle, idleBr, "GET /x HTTP/1.1\r\nHost: h\r\n\r\n"); body != "done" {
		t.Fatal(body)
	}
	busy, busyBr := dialFront(t, addr)
	io.WriteString(busy, "GET /slow HTTP/1.1\r\nHost: h\r\n\r\n")
	<-entered
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	// The idle connection is closed without waiting for the busy one.
	_ = idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := idleBr.ReadByte(); err != io.EOF {
		t.Fatalf("idle connection during shutdown: %v", err)
	}
	select {
	case err := <-stopped:
		t.Fatalf("Serve returned with a request in flight: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	resp, body := readAnswer(t, busyBr, "GET")
	if body != "done" || !resp.Close {
		t.Fatalf("in-flight request: %q close=%v", body, resp.Close)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Fatal("still accepting after shutdown")
	}
}

// Swaps that change the legacy site while clients keep their connections busy: no
// request fails, and once a swap returns every request reaches the new site.
func TestFrontSwapUnderLoad(t *testing.T) {
	dir := t.TempDir()
	siteA, siteB := fakeSite(t, siteNamed("a")), fakeSite(t, siteNamed("b"))
	fileA := legacySetYAML(t, dir, "sa", siteA, `["/"]`, "")
	fileB := legacySetYAML(t, dir, "sb", siteB, `["/"]`, "")
	rt := legacyRuntime(t, fileA)
	addr, stop := serveFront(t, rt)

	var (
		failures atomic.Int64
		lastErr  atomic.Value
		done     = make(chan struct{})
		wg       sync.WaitGroup
	)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	defer client.CloseIdleConnections()
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				resp, err := client.Post("http://"+addr+"/load", "text/plain", strings.NewReader("x"))
				if err != nil {
					failures.Add(1)
					lastErr.Store(err.Error())
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !strings.HasSuffix(string(b), "body=x") {
					failures.Add(1)
					lastErr.Store(fmt.Sprintf("%d %s", resp.StatusCode, b))
				}
			}
		}()
	}
	for i, file := range []string{fileB, fileA, fileB} {
		time.Sleep(100 * time.Millisecond)
		if _, err := rt.Swap(context.Background(), file); err != nil {
			t.Fatalf("swap %d: %v", i, err)
		}
		resp, err := client.Get("http://" + addr + "/after")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if want := map[string]string{fileA: "a", fileB: "b"}[file]; resp.Header.Get("X-Site") != want {
			t.Fatalf("after swap %d: site %q, want %q", i, resp.Header.Get("X-Site"), want)
		}
	}
	close(done)
	wg.Wait()
	if n := failures.Load(); n > 0 {
		t.Errorf("%d requests failed across the swaps; last: %v", n, lastErr.Load())
	}
	if err := stop(); err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

// A connection that never sends a request does not hold a drain up (http.Transport
// dials spare connections it may never use).
func TestFrontShutdownUnusedConnection(t *testing.T) {
	if !frontEnabled() {
		t.Skip(FrontEnv + "=off")
	}
	dir := t.TempDir()
	rt := legacyRuntime(t, legacySetYAML(t, dir, "unused", fakeSite(t, siteNamed("a")), `["/"]`,
		"shutdown_timeout: 3s\nlimits: {read_header_timeout: 30s}\n"))
	addr, stop := serveFront(t, rt)
	c, br := dialFront(t, addr)
	time.Sleep(50 * time.Millisecond) // accepted and waiting for its first byte
	start := time.Now()
	if err := stop(); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("shutdown took %v", d)
	}
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("unused connection after shutdown: %v", err)
	}
}
