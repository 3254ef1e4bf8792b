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

var benchLanguages = []string{"go", "c", "rust", "assemblyscript", "wat"}

func counterPath(b *testing.B, lang string) string {
	return filepath.Join(testpeer.ModuleRoot(b), "examples/pages/counter", lang, "counter.wasm")
}

// BenchmarkLoad is Engine.Load of each language's counter module (read, compile, check,
// first instance): with an empty compilation cache, and with a warm on-disk cache as a
// later start of the host has.
func BenchmarkLoad(b *testing.B) {
	for _, lang := range benchLanguages {
		for _, cached := range []bool{false, true} {
			name := lang + "/nocache"
			if cached {
				name = lang + "/diskcache"
			}
			b.Run(name, func(b *testing.B) {
				dir := b.TempDir()
				if cached {
					warm, _ := NewEngine(dir)
					m, err := warm.Load(context.Background(), Config{Path: counterPath(b, lang), Logger: slog.New(slog.DiscardHandler)})
					if err != nil {
						b.Fatal(err)
					}
					m.Close(context.Background())
					warm.Close(context.Background())
				}
				for b.Loop() {
					cacheDir := ""
					if cached {
						cacheDir = dir
					}
					e, err := NewEngine(cacheDir)
					if err != nil {
						b.Fatal(err)
					}
					m, err := e.Load(context.Background(), Config{Path: counterPath(b, lang), Logger: slog.New(slog.DiscardHandler)})
					if err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					m.Close(context.Background())
					e.Close(context.Background())
					b.StartTimer()
				}
			})
		}
	}
}

// BenchmarkInstantiate is one new instance of an already compiled module (what refilling
// the pool after a discarded instance costs).
func BenchmarkInstantiate(b *testing.B) {
	e, _ := NewEngine("")
	defer e.Close(context.Background())
	for _, lang := range benchLanguages {
		b.Run(lang, func(b *testing.B) {
			m, err := e.Load(context.Background(), Config{Path: counterPath(b, lang), Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close(context.Background())
			for b.Loop() {
				inst, err := m.instantiate(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				inst.mod.Close(context.Background())
				b.StartTimer()
			}
		})
	}
}
