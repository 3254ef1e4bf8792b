package host

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/host/pluginset"
	registrymem "github.com/gnrhost/gnrhost/plugins/registry-mem"
)

func testHost(t *testing.T, yml string) *Host {
	t.Helper()
	cat := Catalog{Registries: map[string]abi.RegistryFactory{registrymem.Factory.Name: registrymem.Factory}}
	set, err := pluginset.Parse("test.yaml", []byte(yml), cat.PluginSetCatalog())
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(context.Background(), Options{Set: set, Catalog: cat, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func testRuntime(t *testing.T, yml string) *Runtime {
	t.Helper()
	cat := Catalog{Registries: map[string]abi.RegistryFactory{registrymem.Factory.Name: registrymem.Factory}}
	set, err := pluginset.Parse("test.yaml", []byte(yml), cat.PluginSetCatalog())
	if err != nil {
		t.Fatal(err)
	}
	rt, err := NewRuntime(context.Background(), RuntimeOptions{Set: set, Catalog: cat, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

// serveWithSlowRoute serves rt with an extra route that holds a request until release
// closes, and returns the base URL, a channel that reports Serve's result, and the route's
// "entered" signal.
func serveWithSlowRoute(t *testing.T, rt *Runtime, ctx context.Context, release <-chan struct{}) (string, <-chan error, <-chan struct{}) {
	t.Helper()
	h := rt.Current()
	entered := make(chan struct{}, 1)
	inner := h.handler
	h.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			entered <- struct{}{}
			<-release
			io.WriteString(w, "done")
			return
		}
		inner.ServeHTTP(w, r)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- rt.Serve(ctx, ln) }()
	return "http://" + ln.Addr().String(), done, entered
}

// A request in flight when shutdown starts completes; new connections are refused; Serve
// returns nil once drained.
func TestShutdownDrainsInFlight(t *testing.T) {
	rt := testRuntime(t, "registry: {plugin: registry-mem}\nshutdown_timeout: 10s\n")
	h := rt.Current()
	ctx, cancel := context.WithCancel(context.Background())
	release := make(chan struct{})
	base, done, entered := serveWithSlowRoute(t, rt, ctx, release)

	result := make(chan string, 1)
	go func() {
		resp, err := http.Get(base + "/slow")
		if err != nil {
			result <- "error: " + err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		result <- string(b)
	}()
	<-entered
	cancel()
	// Shutdown has begun once readiness flips; then let the slow request finish.
	deadline := time.Now().Add(5 * time.Second)
	for !h.draining.Load() {
		if time.Now().After(deadline) {
			t.Fatal("host never started draining")
		}
		time.Sleep(time.Millisecond)
	}
	if h.Ready() {
		t.Error("Ready() true while draining")
	}
	close(release)
	if got := <-result; got != "done" {
		t.Fatalf("in-flight request: %q", got)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Fatal("host still accepts connections after shutdown")
	}
	if err := h.Registry().Ping(context.Background()); err == nil {
		t.Fatal("registry still answers after shutdown")
	}
}

// A request that outlives shutdown_timeout does not hold the host: Serve reports it.
func TestShutdownTimeoutBounds(t *testing.T) {
	rt := testRuntime(t, "registry: {plugin: registry-mem}\nshutdown_timeout: 200ms\n")
	ctx, cancel := context.WithCancel(context.Background())
	release := make(chan struct{})
	defer close(release)
	base, done, entered := serveWithSlowRoute(t, rt, ctx, release)
	go func() {
		if resp, err := http.Get(base + "/slow"); err == nil {
			resp.Body.Close()
		}
	}()
	<-entered
	start := time.Now()
	cancel()
	err := <-done
	if err == nil || !strings.Contains(err.Error(), "drain in-flight requests") {
		t.Fatalf("Serve = %v, want a drain timeout", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("shutdown took %s with a 200ms drain timeout", took)
	}
}

func TestBodyLimit(t *testing.T) {
	h := testHost(t, "registry: {plugin: registry-mem}\nlimits: {max_body_bytes: 10}\n")
	defer h.Close(context.Background())
	srv := &http.Server{Handler: h.Handler()}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(ln)
	defer srv.Close()
	resp, err := http.Post("http://"+ln.Addr().String()+"/_gnr/connection", "text/plain", strings.NewReader(strings.Repeat("a", 100)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", resp.StatusCode)
	}
}
