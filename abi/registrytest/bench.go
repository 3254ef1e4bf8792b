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
