package pagerpc

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/hashicorp/go-plugin"

	"github.com/gnrhost/gnrhost/abi"
)

// connect serves impl through go-plugin's test harness (a real gRPC connection over a
// unix socket with a real broker, set up as for a plugin process) and returns the
// host-side abi.PageHandler.
func connect(t testing.TB, impl abi.PageHandler, multiplex bool) abi.PageHandler {
	t.Helper()
	gc, gs := plugin.TestPluginGRPCConn(t, multiplex, VersionedPlugins(impl)[abi.PageProtocolVersion])
	t.Cleanup(func() {
		// Server first: GRPCClient.Close asks a live server to stop itself from a handler
		// goroutine, which races (inside go-plugin) with a Stop of our own.
		gs.Stop()
		_ = gc.Close()
	})
	raw, err := gc.Dispense(PluginName)
	if err != nil {
		t.Fatalf("dispense %q: %v", PluginName, err)
	}
	h, ok := raw.(abi.PageHandler)
	if !ok {
		t.Fatalf("dispensed %T, want abi.PageHandler", raw)
	}
	return h
}

// fakeHost is an in-memory abi.PageHost that records what reached it.
type fakeHost struct {
	name string

	mu     sync.Mutex
	user   map[string][]byte
	global map[string][]byte
	logs   []string
	err    error // returned by every register call when set
}

func newFakeHost(name string) *fakeHost {
	return &fakeHost{name: name, user: map[string][]byte{}, global: map[string][]byte{}}
}

func (h *fakeHost) get(m map[string][]byte, key string) ([]byte, bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err != nil {
		return nil, false, h.err
	}
	v, ok := m[key]
	return v, ok, nil
}

func (h *fakeHost) set(m map[string][]byte, key string, v []byte) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err != nil {
		return h.err
	}
	m[key] = v
	return nil
}

func (h *fakeHost) UserGet(_ context.Context, key string) ([]byte, bool, error) {
	return h.get(h.user, key)
}

func (h *fakeHost) UserSet(_ context.Context, key string, v []byte) error {
	return h.set(h.user, key, v)
}

func (h *fakeHost) GlobalGet(_ context.Context, key string) ([]byte, bool, error) {
	return h.get(h.global, key)
}

func (h *fakeHost) GlobalSet(_ context.Context, key string, v []byte) error {
	return h.set(h.global, key, v)
}

func (h *fakeHost) Log(_ context.Context, level int, msg string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.logs = append(h.logs, fmt.Sprintf("%d %s", level, msg))
}

func (h *fakeHost) snapshot() (user, global map[string]string, logs []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	user, global = map[string]string{}, map[string]string{}
	for k, v := range h.user {
		user[k] = string(v)
	}
	for k, v := range h.global {
		global[k] = string(v)
	}
	return user, global, append([]string(nil), h.logs...)
}

// handlerFunc is an abi.PageHandler from a function, for tests that need the raw
// contract rather than Entries.
type handlerFunc struct {
	features uint64
	call     func(ctx context.Context, c abi.PageCall, h abi.PageHost) (abi.PageResult, error)
}

func (f handlerFunc) Features(context.Context) (uint64, error) { return f.features, nil }

func (f handlerFunc) Call(ctx context.Context, c abi.PageCall, h abi.PageHost) (abi.PageResult, error) {
	return f.call(ctx, c, h)
}
