package pages_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gnrhost/gnrhost/abi/pagerpc"
	"github.com/gnrhost/gnrhost/host/pages"
	"github.com/gnrhost/gnrhost/host/pluginmgr"
	"github.com/gnrhost/gnrhost/host/pluginset"
	"github.com/gnrhost/gnrhost/host/wasm"
	"github.com/gnrhost/gnrhost/internal/testpeer"
)

// startPluginHost runs a host whose route /p is the test page plugin
// (testdata/pageplugin) with the given extra route settings.
func startPluginHost(t *testing.T, settings string) *testHost {
	t.Helper()
	exe := testpeer.GoBuild(t, "host/pages/testdata/pageplugin")
	return startSet(t, fmt.Sprintf("registry: {plugin: registry-mem}\npages:\n  - {route: /p, plugin: %q%s}\n", exe, settings))
}

// A plugin's result is checked against the page ABI's limits; a violation fails the call
// (500) and the call changes nothing on the page.
func TestPluginResultLimits(t *testing.T) {
	for _, lifecycle := range []string{"ephemeral", "resident"} {
		t.Run(lifecycle, func(t *testing.T) {
			h := startPluginHost(t, ", lifecycle: "+lifecycle)
			b := h.browser(t)
			page := b.open("/p")
			b.wantResult(page, "set", `{"v":1}`, `{"v":1}`)
			for _, method := range []string{
				"bigreply", "badpush", "bigpush", "manypushes", "badstore", "badkey", "storefull",
				"badpublish", "manypublishes", "badtable", "panic",
			} {
				if code, out := b.rpc(page, method, `{}`); code != 500 {
					t.Errorf("%s: %d %s, want 500", method, code, out)
				}
				if got := b.result(page, "get", `{}`); got != `{"v":1}` {
					t.Fatalf("%s changed the page store: %s", method, got)
				}
			}
			// Error replies are normalised as for WASM modules.
			b.wantError(page, "status7", `{}`, `{"code":"guest_status_7","message":"the page handler returned status 7"}`)
			b.wantError(page, "badcode", `{}`, `{"code":"guest_error","message":"the page handler failed without a valid error reply"}`)
			// A callback breaking the rules is refused as invalid; the call goes on.
			b.wantResult(page, "baduserset", `{}`, `{"invalid":true}`)
		})
	}
}

// The route's timeout bounds a plugin call (504), and the plugin serves on.
func TestPluginTimeout(t *testing.T) {
	h := startPluginHost(t, ", timeout: 200ms")
	b := h.browser(t)
	page := b.open("/p")
	start := time.Now()
	if code, out := b.rpc(page, "sleep", `{}`); code != 504 {
		t.Fatalf("sleep: %d %s, want 504", code, out)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("timeout took %s", took)
	}
	b.wantResult(page, "get", `{}`, `null`)
}

// A killed plugin makes its route answer 503 at once, not hang or 500.
func TestPluginKilledAnswers503(t *testing.T) {
	h := startPluginHost(t, "")
	b := h.browser(t)
	page := b.open("/p")
	var pid int
	if _, err := fmt.Sscanf(b.result(page, "pid", `{}`), `{"pid":%d}`, &pid); err != nil || pid <= 0 {
		t.Fatalf("pid: %v", err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitDead(t, pid)
	for i := range 3 {
		start := time.Now()
		code, out := b.rpc(page, "get", `{}`)
		if code != 503 {
			t.Fatalf("rpc %d after kill: %d %s, want 503", i, code, out)
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Fatalf("rpc %d after kill took %s", i, took)
		}
	}
}

// waitDead waits until pid has exited (a zombie counts: it serves nothing).
func waitDead(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return
		}
		// The state follows the command name in parentheses: "pid (comm) S ...".
		if i := strings.LastIndexByte(string(stat), ')'); i > 0 && strings.HasPrefix(string(stat[i+1:]), " Z") {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("process %d still running after SIGKILL", pid)
}

// The page plugin's parent watchdog reads the variable every plugin child gets.
func TestPluginParentEnv(t *testing.T) {
	if pagerpc.EnvParentPID != pluginmgr.EnvParentPID {
		t.Fatalf("pagerpc.EnvParentPID %q != pluginmgr.EnvParentPID %q", pagerpc.EnvParentPID, pluginmgr.EnvParentPID)
	}
}

// fakeHost is a wasm.Host with an empty page store and no registers.
type fakeHost struct{}

func (fakeHost) PageInfo() []byte                                { return []byte(`{"page_id":"p1","route":"/p"}`) }
func (fakeHost) StoreGet(string) ([]byte, bool)                  { return nil, false }
func (fakeHost) StoreKeys() []string                             { return nil }
func (fakeHost) StoreBytes() int                                 { return 0 }
func (fakeHost) Log(int, string)                                 {}
func (fakeHost) GlobalSet(context.Context, string, []byte) error { return nil }
func (fakeHost) UserSet(context.Context, string, []byte) error   { return nil }
func (fakeHost) UserGet(context.Context, string) ([]byte, bool, error) {
	return nil, false, nil
}
func (fakeHost) GlobalGet(context.Context, string) ([]byte, bool, error) {
	return nil, false, nil
}

// syncLog collects log output for a test to search.
type syncLog struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// The handler on its own: features, the plugin's stderr in the host log tagged by the
// factory's logger, and Close ending the process.
func TestPluginHandler(t *testing.T) {
	exe := testpeer.GoBuild(t, "host/pages/testdata/pageplugin")
	logs := &syncLog{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})).With("route", "/p")
	route := pluginset.PageRoute{Route: "/p", Plugin: exe, Timeout: pluginset.Duration(time.Second), Instances: 2}
	h, err := pages.PluginHandlerFactory(exe)(t.Context(), route, logger)
	if err != nil {
		t.Fatal(err)
	}
	if h.Name() != exe || h.Wants(wasm.EntryEvent) || h.Wants(wasm.EntryClose) || !h.Wants(wasm.EntryRPC) {
		t.Fatalf("name %q, wants event %v close %v rpc %v", h.Name(), h.Wants(wasm.EntryEvent), h.Wants(wasm.EntryClose), h.Wants(wasm.EntryRPC))
	}
	res, err := h.Call(t.Context(), &wasm.Call{Entry: wasm.EntryRPC, Method: "pid", Input: []byte("{}"), Host: fakeHost{}})
	if err != nil {
		t.Fatal(err)
	}
	var pid int
	if _, err := fmt.Sscanf(string(res.Reply), `{"pid":%d}`, &pid); err != nil {
		t.Fatalf("pid reply %s: %v", res.Reply, err)
	}

	_, err = h.Call(t.Context(), &wasm.Call{Entry: wasm.EntryRPC, Method: "panic", Input: []byte("{}"), Host: fakeHost{}})
	var ce *wasm.CallError
	if !errors.As(err, &ce) || ce.Kind != wasm.KindTrap {
		t.Fatalf("panic: %v, want a trap", err)
	}
	// The stack trace went to the plugin's stderr and reaches the host log, tagged.
	stderrLine := regexp.MustCompile(`level=ERROR msg="page handler panic" route=/p entry=rpc method=panic panic="test plugin panics on request" stack="goroutine`)
	deadline := time.Now().Add(5 * time.Second)
	for !stderrLine.MatchString(logs.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("the plugin's stderr is not in the host log, tagged with the route:\n%s", logs)
		}
		time.Sleep(10 * time.Millisecond)
	}

	if err := h.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitDead(t, pid)
	_, err = h.Call(t.Context(), &wasm.Call{Entry: wasm.EntryRPC, Method: "get", Input: []byte("{}"), Host: fakeHost{}})
	if !errors.As(err, &ce) || ce.Kind != wasm.KindClosed {
		t.Fatalf("call after close: %v, want closed", err)
	}
}
