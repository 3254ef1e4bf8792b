package pages

import (
	"context"

	"github.com/gnrhost/gnrhost/host/wasm"
)

// Handler runs page entry points: a WASM module (*wasm.Module) or a native page plugin.
type Handler interface {
	Name() string
	Call(ctx context.Context, call *wasm.Call) (*wasm.Result, error)
	// Wants reports whether the handler takes calls at an optional entry (event, close).
	Wants(e wasm.Entry) bool
	Close(ctx context.Context) error
}

var _ Handler = (*wasm.Module)(nil)
