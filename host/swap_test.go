package host_test

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
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/host"
	"github.com/gnrhost/gnrhost/host/admin"
	"github.com/gnrhost/gnrhost/host/pluginset"
	"github.com/gnrhost/gnrhost/internal/testpeer"
	registrymem "github.com/gnrhost/gnrhost/plugins/registry-mem"
)

var swapCatalog = host.Catalog{Registries: map[string]abi.RegistryFactory{registrymem.Factory.Name: registrymem.Factory}}

// counterSet writes a set serving the WAT counter example at /counter with lifecycle.
func counterSet(t *testing.T, dir, name, lifecycle, extra string) string {
	t.Helper()
	return counterSetFile(t, dir, name, lifecycle, extra)
}

func counterSetFile(t testing.TB, dir, name, lifecycle, extra string) string {
	t.Helper()
	module := filepath.Join(testpeer.ModuleRoot(t), "examples/pages/counter/wat/counter.wasm")
	yml := fmt.Sprintf("name: %s\nregistry: {plugin: registry-mem}\nwasm: {cache_dir: %s}\npages:\n  - {route: /counter, module: %s, lifecycle: %s}\n%s",
		name, filepath.Join(dir, "cache"), module, lifecycle, extra)
	path := filepath.Join(dir, name+".yaml")
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func startRuntime(t *testing.T, file string) (*host.Runtime, *httptest.Server) {
	t.Helper()
	return startRuntimeB(t, file)
}

func startRuntimeB(t testing.TB, file string) (*host.Runtime, *httptest.Server) {
	t.Helper()
	set, err := pluginset.Load(file, swapCatalog.PluginSetCatalog())
	if err != nil {
		t.Fatal(err)
	}
	rt, err := host.NewRuntime(context.Background(), host.RuntimeOptions{Set: set, Catalog: swapCatalog, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rt)
	t.Cleanup(func() {
		srv.Close()
		if err := rt.Close(context.Background()); err != nil {
			t.Errorf("close runtime: %v", err)
		}
	})
	return rt, srv
}

// counterClient is one browser: its own connection, one counter page.
type counterClient struct {
	http   *http.Client
	base   string
	pageID string
	sent   int // increments answered 200
}

func newCounterClient(t *testing.T, base string) *counterClient {
	jar, _ := cookiejar.New(nil)
	c := &counterClient{http: &http.Client{Jar: jar, Timeout: 30 * time.Second}, base: base}
	resp, err := c.http.Get(base + "/counter")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	c.pageID = resp.Header.Get("X-Gnr-Page-Id")
	if resp.StatusCode != 200 || c.pageID == "" {
		t.Fatalf("GET /counter: %d", resp.StatusCode)
	}
	return c
}

func (c *counterClient) rpc(method string) (int, json.RawMessage, error) {
	body := fmt.Sprintf(`{"page_id":%q,"method":%q,"params":{}}`, c.pageID, method)
	resp, err := c.http.Post(c.base+"/_gnr/rpc", "application/json", strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var out struct {
		Result json.RawMessage `json:"result"`
	}
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out.Result, nil
}

func (c *counterClient) count(t *testing.T) int {
	t.Helper()
	code, res, err := c.rpc("get")
	if err != nil || code != 200 {
		t.Fatalf("get: %d %v", code, err)
	}
	var v struct {
		Count int `json:"count"`
	}
	if err := json.Unmarshal(res, &v); err != nil {
		t.Fatalf("get result %s: %v", res, err)
	}
	return v.Count
}

// TestSwapsUnderLoadKeepState: clients increment their counters without pause while the
// host swaps resident <-> ephemeral 20 times. No request fails and every counter ends at
// the number of increments its client saw succeed.
func TestSwapsUnderLoadKeepState(t *testing.T) {
	dir := t.TempDir()
	resident := counterSet(t, dir, "resident", "resident", "")
	ephemeral := counterSet(t, dir, "ephemeral", "ephemeral", "")
	rt, srv := startRuntime(t, resident)

	const clients = 6
	cs := make([]*counterClient, clients)
	for i := range cs {
		cs[i] = newCounterClient(t, srv.URL)
	}
	var failures atomic.Int64
	var progress atomic.Int64
	var failMsg sync.Map
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				code, _, err := c.rpc("increment")
				if err != nil || code != 200 {
					failures.Add(1)
					failMsg.Store(fmt.Sprintf("%d %v", code, err), true)
					continue
				}
				c.sent++
				progress.Add(1)
			}
		}()
	}
	waitProgress := func(n int64) {
		start := progress.Load()
		deadline := time.Now().Add(20 * time.Second)
		for progress.Load() < start+n {
			if time.Now().After(deadline) {
				t.Fatalf("clients made no progress (%d increments)", progress.Load()-start)
			}
			time.Sleep(time.Millisecond)
		}
	}
	files := []string{ephemeral, resident}
	for i := range 20 {
		waitProgress(clients * 3)
		rec, err := rt.Swap(context.Background(), files[i%2])
		if err != nil {
			t.Fatalf("swap %d: %v", i, err)
		}
		if rec.Result != admin.ResultOK {
			t.Fatalf("swap %d: %+v", i, rec)
		}
	}
	waitProgress(clients * 3)
	close(stop)
	wg.Wait()
	if n := failures.Load(); n > 0 {
		var msgs []string
		failMsg.Range(func(k, _ any) bool { msgs = append(msgs, k.(string)); return true })
		t.Errorf("%d requests failed across the swaps: %v", n, msgs)
	}
	for i, c := range cs {
		if got := c.count(t); got != c.sent {
			t.Errorf("client %d: counter %d after %d successful increments (state lost across swaps)", i, got, c.sent)
		}
	}
	st := rt.Status(context.Background())
	if len(st.Swaps) != 20 || st.Set.Name != "ephemeral" && st.Set.Name != "resident" {
		t.Errorf("status: %d swaps, set %q", len(st.Swaps), st.Set.Name)
	}
}

// TestSwapRefusals: a set that does not validate, and one whose page module is refused,
// each leave the running set serving; the record says why.
func TestSwapRefusals(t *testing.T) {
	dir := t.TempDir()
	good := counterSet(t, dir, "good", "resident", "")
	rt, srv := startRuntime(t, good)
	c := newCounterClient(t, srv.URL)
	if code, _, _ := c.rpc("increment"); code != 200 {
		t.Fatal("increment before the refused swaps")
	}

	invalid := filepath.Join(dir, "invalid.yaml")
	os.WriteFile(invalid, []byte("registry: {plugin: registry-nope}\nbogus: 1\n"), 0o600)
	badModule := filepath.Join(dir, "bad.wasm")
	os.WriteFile(badModule, []byte("\x00asm\x01\x00\x00\x00"), 0o600) // a module without the ABI
	refused := filepath.Join(dir, "refused.yaml")
	os.WriteFile(refused, []byte("registry: {plugin: registry-mem}\npages:\n  - {route: /x, module: "+badModule+"}\n"), 0o600)

	for file, want := range map[string]string{invalid: "bogus", refused: "gnr_abi_v1", filepath.Join(dir, "missing.yaml"): "cannot read"} {
		rec, err := rt.Swap(context.Background(), file)
		if err == nil || !strings.Contains(err.Error(), want) || rec.Result != admin.ResultFailed {
			t.Errorf("swap %s: %v %+v, want a refusal mentioning %q", filepath.Base(file), err, rec, want)
		}
		if got := rt.Current().Set().Name; got != "good" {
			t.Fatalf("after a refused swap the running set is %q", got)
		}
		if code, _, _ := c.rpc("increment"); code != 200 {
			t.Fatalf("the running set stopped serving after refusing %s", filepath.Base(file))
		}
	}
	if got := c.count(t); got != 4 {
		t.Errorf("counter %d, want 4", got)
	}
	if _, err := rt.Rollback(context.Background()); err == nil {
		t.Error("rollback with no previous set succeeded")
	}
}

// TestSwapCopiesRegistersOnRegistryChange: a new registry (here registry-mem with another
// config, so not the same plugin instance) gets every register copied, under load.
func TestSwapCopiesRegistersOnRegistryChange(t *testing.T) {
	dir := t.TempDir()
	a := counterSet(t, dir, "a", "resident", "")
	b := filepath.Join(dir, "b.yaml")
	raw, _ := os.ReadFile(counterSet(t, dir, "b", "ephemeral", ""))
	os.WriteFile(b, []byte(strings.Replace(string(raw), "registry: {plugin: registry-mem}", "registry: {plugin: registry-mem, config: {page_max_age: 900s}}", 1)), 0o600)
	rt, srv := startRuntime(t, a)
	c := newCounterClient(t, srv.URL)
	for range 5 {
		if code, _, _ := c.rpc("increment"); code != 200 {
			t.Fatal("increment")
		}
	}
	before := rt.Current().Registry()
	rec, err := rt.Swap(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	if rt.Current().Registry() == before {
		t.Fatal("the registry was reused although its config changed")
	}
	if !strings.Contains(strings.Join(rec.Steps, "; "), "1 connections, 1 pages") {
		t.Errorf("steps = %v", rec.Steps)
	}
	if got := c.count(t); got != 5 {
		t.Errorf("counter after the registry change = %d, want 5", got)
	}
	// And back, with the ephemeral page's state now in b's registry.
	if code, _, _ := c.rpc("increment"); code != 200 {
		t.Fatal("increment on b")
	}
	if _, err := rt.Rollback(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := c.count(t); got != 6 {
		t.Errorf("counter after rolling back = %d, want 6", got)
	}
}

// TestSwapsReleaseMemory: 20 more swaps leave the process within 10% of its memory
// before them (Go heap, and resident set: compiled modules live outside the heap), so a
// swap frees everything the old set held.
func TestSwapsReleaseMemory(t *testing.T) {
	dir := t.TempDir()
	resident := counterSet(t, dir, "resident", "resident", "")
	ephemeral := counterSet(t, dir, "ephemeral", "ephemeral", "")
	rt, srv := startRuntime(t, resident)
	c := newCounterClient(t, srv.URL)
	files := []string{ephemeral, resident}
	swaps := func(n int) {
		for i := range n {
			if _, err := rt.Swap(context.Background(), files[i%2]); err != nil {
				t.Fatal(err)
			}
			if code, _, _ := c.rpc("increment"); code != 200 {
				t.Fatal("increment")
			}
		}
	}
	swaps(4) // warm up: caches, pools, first compilations
	heap0, rss0 := memoryNow(t)
	swaps(20)
	heap1, rss1 := memoryNow(t)
	t.Logf("heap %d -> %d KiB, rss %d -> %d KiB", heap0>>10, heap1>>10, rss0>>10, rss1>>10)
	if float64(heap1) > 1.10*float64(heap0) {
		t.Errorf("Go heap grew from %d to %d KiB over 20 swaps (> 10%%)", heap0>>10, heap1>>10)
	}
	// The resident set of a 25 MiB test process moves by 2-3 MiB between readings with no
	// trend over 100 swaps (measured), so it gets 10% or 4 MiB, whichever is more. The race
	// detector's shadow memory grows on its own and is never returned: not checked there.
	if !raceEnabled && rss1 > max(rss0+rss0/10, rss0+4<<20) {
		t.Errorf("resident set grew from %d to %d KiB over 20 swaps", rss0>>10, rss1>>10)
	}
}

// memoryNow returns the live Go heap and the process's resident set, after a collection
// that returns freed memory to the OS; the smallest of three readings, since the
// resident set moves by a few MiB between collections without any trend.
func memoryNow(t *testing.T) (heap, rss uint64) {
	t.Helper()
	heap, rss = memoryOnce(t)
	for range 2 {
		h, r := memoryOnce(t)
		heap, rss = min(heap, h), min(rss, r)
	}
	return heap, rss
}

func memoryOnce(t *testing.T) (heap, rss uint64) {
	t.Helper()
	m := admin.ReadMemory(true)
	if m.ResidentSize == 0 {
		t.Fatal("no resident set size in /proc/self/status")
	}
	return m.HeapAllocBytes, m.ResidentSize
}

// copyRegisters skips an item that disappears while it is copied: here a page whose
// connection is gone from the source, so the target refuses the page.
func TestCopySkipsVanishedItems(t *testing.T) {
	dir := t.TempDir()
	a := counterSet(t, dir, "a", "ephemeral", "")
	b := filepath.Join(dir, "b.yaml")
	raw, _ := os.ReadFile(counterSet(t, dir, "b", "ephemeral", ""))
	os.WriteFile(b, []byte(strings.Replace(string(raw), "registry: {plugin: registry-mem}", "registry: {plugin: registry-mem, config: {page_max_age: 900s}}", 1)), 0o600)
	rt, srv := startRuntime(t, a)
	c := newCounterClient(t, srv.URL)
	reg := rt.Current().Registry()
	ctx := context.Background()
	// An orphan page: its connection dropped without cascade.
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(reg.AddItem(ctx, abi.Item{Register: abi.RegisterConnection, ID: "gone-conn", User: "guest_x"}))
	must(reg.AddItem(ctx, abi.Item{Register: abi.RegisterPage, ID: "orphan-page", ConnectionID: "gone-conn", PageName: "/counter"}))
	must(reg.DropItem(ctx, abi.ItemRef{Register: abi.RegisterConnection, ID: "gone-conn"}, false))
	if _, err := rt.Swap(ctx, b); err != nil {
		t.Fatalf("swap with a page whose connection is gone: %v", err)
	}
	if ok, _ := rt.Current().Registry().Exists(ctx, abi.ItemRef{Register: abi.RegisterPage, ID: "orphan-page"}); ok {
		t.Error("the orphan page was copied")
	}
	if code, _, _ := c.rpc("increment"); code != 200 {
		t.Error("the live page does not answer after the swap")
	}
}
