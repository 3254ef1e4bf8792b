package registrytest

import (
	"encoding/json"
	"testing"

	"github.com/gnrhost/gnrhost/abi"
)

// BenchmarkGetItem measures GetItem(includeData=false) of one page, the call a request
// makes most (gnrdaemon clients spend most of their ~56 calls per request on such reads).
// Call it from a backend's own benchmark with a fresh registry; it adds a connection
// "bench-conn" and a page "bench-page".
func BenchmarkGetItem(b *testing.B, reg abi.Registry) {
	b.Helper()
	ctx := b.Context()
	ref := seedBench(b, reg)
	b.ReportAllocs()
	for b.Loop() {
		it, err := reg.GetItem(ctx, ref, false)
		if err != nil {
			b.Fatalf("GetItem: %v", err)
		}
		if it.ID != ref.ID {
			b.Fatalf("GetItem returned %q", it.ID)
		}
	}
}

// BenchmarkGetItemParallel is BenchmarkGetItem from goroutines per CPU × parallelism
// goroutines at once, for backends whose cost is mostly waiting (a plugin process, a
// daemon): ns/op is then wall time divided by all calls made.
func BenchmarkGetItemParallel(b *testing.B, reg abi.Registry, parallelism int) {
	b.Helper()
	ctx := b.Context()
	ref := seedBench(b, reg)
	b.ReportAllocs()
	b.SetParallelism(parallelism)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := reg.GetItem(ctx, ref, false); err != nil {
				b.Errorf("GetItem: %v", err)
				return
			}
		}
	})
}

// seedBench adds the connection and page the benchmarks read.
func seedBench(b *testing.B, reg abi.Registry) abi.ItemRef {
	b.Helper()
	ctx := b.Context()
	if err := reg.AddItem(ctx, abi.Item{Register: abi.RegisterConnection, ID: "bench-conn", User: "bench",
		ConnectionName: "bench", UserIP: "127.0.0.1", UserAgent: "bench"}); err != nil {
		b.Fatalf("add connection: %v", err)
	}
	ref := abi.ItemRef{Register: abi.RegisterPage, ID: "bench-page"}
	if err := reg.AddItem(ctx, abi.Item{Register: ref.Register, ID: ref.ID, User: "bench", ConnectionID: "bench-conn",
		PageName: "index", RelativeURL: "/index", SubscribedTables: []string{"todo.item", "todo.list"},
		Data: map[string]json.RawMessage{"form.title": json.RawMessage(`"bench"`)}}); err != nil {
		b.Fatalf("add page: %v", err)
	}
	return ref
}
