package pages_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/host"
	"github.com/gnrhost/gnrhost/host/pages"
	"github.com/gnrhost/gnrhost/host/pluginset"
	"github.com/gnrhost/gnrhost/host/wasm"
	"github.com/gnrhost/gnrhost/internal/testpeer"
	registrymem "github.com/gnrhost/gnrhost/plugins/registry-mem"
)

// nativeCounter is the counter example's logic as a native Go handler in the host: the
// baseline the WASM builds are measured against.
type nativeCounter struct{}

func (nativeCounter) Name() string                { return "counter-native" }
func (nativeCounter) Wants(e wasm.Entry) bool     { return e == wasm.EntryLoad || e == wasm.EntryRPC }
func (nativeCounter) Close(context.Context) error { return nil }
func (nativeCounter) Call(ctx context.Context, c *wasm.Call) (*wasm.Result, error) {
	count, total := 0, 0
	if v, ok := c.Host.StoreGet("count"); ok {
		count, _ = strconv.Atoi(string(v))
	}
	u, ok, err := c.Host.UserGet(ctx, "total")
	if err != nil {
		return nil, err
	}
	if ok {
		total, _ = strconv.Atoi(string(u))
	}
	res := &wasm.Result{}
	switch {
	case c.Entry == wasm.EntryLoad:
		res.Reply = []byte(fmt.Sprintf(counterHTML, count, total))
	case c.Method == "increment":
		count++
		total++
		v := []byte(strconv.Itoa(count))
		res.Changes = append(res.Changes, wasm.StoreChange{Key: "count", Value: v})
		if err := c.Host.UserSet(ctx, "total", []byte(strconv.Itoa(total))); err != nil {
			return nil, err
		}
		res.Reply = []byte(fmt.Sprintf(`{"count":%d,"total":%d}`, count, total))
	case c.Method == "get":
		res.Reply = []byte(fmt.Sprintf(`{"count":%d,"total":%d}`, count, total))
	default:
		res.Status = 1
		res.Reply = []byte(fmt.Sprintf(`{"code":"unknown_method","message":"unknown method: %s"}`, c.Method))
	}
	return res, nil
}

func benchHost(b *testing.B, lifecycle string) (*httptest.Server, func()) {
	b.Helper()
	root := testpeer.ModuleRoot(b)
	var yml strings.Builder
	fmt.Fprintf(&yml, "registry: {plugin: registry-mem}\nwasm: {cache_dir: %q}\npages:\n", filepath.Join(os.TempDir(), "gnrhost-bench-cache"))
	fmt.Fprintf(&yml, "  - {route: /native, plugin: counter-native, lifecycle: %s}\n", lifecycle)
	for _, lang := range languages {
		fmt.Fprintf(&yml, "  - {route: /%s, module: %q, lifecycle: %s}\n", lang, filepath.Join(root, "examples/pages/counter", lang, "counter.wasm"), lifecycle)
	}
	// The same Go handler as a native page plugin over go-plugin.
	fmt.Fprintf(&yml, "  - {route: /goplugin, plugin: %q, lifecycle: %s}\n", testpeer.GoBuild(b, "examples/pages/counter/goplugin"), lifecycle)
	cat := host.Catalog{
		Registries: map[string]abi.RegistryFactory{registrymem.Factory.Name: registrymem.Factory},
		Pages: map[string]pages.HandlerFactory{"counter-native": func(context.Context, pluginset.PageRoute, *slog.Logger) (pages.Handler, error) {
			return nativeCounter{}, nil
		}},
	}
	set, err := pluginset.Parse(filepath.Join(b.TempDir(), "bench.yaml"), []byte(yml.String()), cat.PluginSetCatalog())
	if err != nil {
		b.Fatal(err)
	}
	h, err := host.New(context.Background(), host.Options{Set: set, Catalog: cat, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h.Handler())
	return srv, func() { srv.Close(); _ = h.Close(context.Background()) }
}

// BenchmarkCounterRPC is one `increment` RPC over HTTP (keep-alive, one client) on the
// counter page: native Go handler vs each language's WASM build and the go-plugin page
// plugin, resident and ephemeral.
// bench/pages.sh prints the ratios.
func BenchmarkCounterRPC(b *testing.B) {
	for _, lifecycle := range []string{"resident", "ephemeral"} {
		srv, stop := benchHost(b, lifecycle)
		for _, route := range append(append([]string{"native"}, languages...), "goplugin") {
			b.Run(lifecycle+"/"+route, func(b *testing.B) {
				jar, _ := cookiejar.New(nil)
				client := &http.Client{Jar: jar}
				resp, err := client.Get(srv.URL + "/" + route)
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
				page := resp.Header.Get("X-Gnr-Page-Id")
				body := fmt.Sprintf(`{"page_id":%q,"method":"increment","params":{}}`, page)
				b.ReportAllocs()
				for b.Loop() {
					resp, err := client.Post(srv.URL+"/_gnr/rpc", "application/json", strings.NewReader(body))
					if err != nil {
						b.Fatal(err)
					}
					var buf [512]byte
					n, _ := resp.Body.Read(buf[:])
					resp.Body.Close()
					if resp.StatusCode != 200 || !strings.Contains(string(buf[:n]), `"count"`) {
						b.Fatalf("status %d: %s", resp.StatusCode, buf[:n])
					}
				}
			})
		}
		stop()
	}
}
