package wasm

import (
	"context"
	"fmt"
	"os"

	"github.com/tetratelabs/wazero"
)

// Engine holds what modules share: the compilation cache.
type Engine struct {
	cache wazero.CompilationCache
}

// NewEngine makes an engine whose modules are compiled through an on-disk cache in
// cacheDir (created if missing); an empty cacheDir compiles in memory only.
func NewEngine(cacheDir string) (*Engine, error) {
	if cacheDir == "" {
		return &Engine{cache: wazero.NewCompilationCache()}, nil
	}
	if err := os.MkdirAll(cacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("wasm: compilation cache dir %s: %w", cacheDir, err)
	}
	c, err := wazero.NewCompilationCacheWithDir(cacheDir)
	if err != nil {
		return nil, fmt.Errorf("wasm: compilation cache dir %s: %w", cacheDir, err)
	}
	return &Engine{cache: c}, nil
}

// Close releases the cache handle; modules must be closed first.
func (e *Engine) Close(ctx context.Context) error { return e.cache.Close(ctx) }
