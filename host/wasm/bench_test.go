package wasm

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/gnrhost/gnrhost/internal/testpeer"
)

// BenchmarkCounterIncrement is one `increment` call straight into each language's
// counter module (no HTTP), with an in-memory host: the per-call cost of the runtime and
// the guest.
func BenchmarkCounterIncrement(b *testing.B) {
	e, err := NewEngine(filepath.Join(b.TempDir(), "cache"))
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close(context.Background())
	for _, lang := range []string{"go", "c", "rust", "assemblyscript", "wat"} {
		b.Run(lang, func(b *testing.B) {
			path := filepath.Join(testpeer.ModuleRoot(b), "examples/pages/counter", lang, "counter.wasm")
			m, err := e.Load(context.Background(), Config{Path: path, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Skip(err)
			}
			defer m.Close(context.Background())
			h := newFakeHost()
			call := &Call{Entry: EntryRPC, Method: "increment", Input: []byte(`{}`), Host: h}
			b.ReportAllocs()
			for b.Loop() {
				res, err := m.Call(context.Background(), call)
				if err != nil || res.Status != 0 {
					b.Fatalf("%v %+v", err, res)
				}
			}
		})
	}
}
