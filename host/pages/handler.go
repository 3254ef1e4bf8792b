package pages

import (
	"context"
	"log/slog"

	"github.com/gnrhost/gnrhost/host/pluginset"
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

// HandlerFactory builds a native page handler for a route whose `plugin:` names it.
type HandlerFactory func(ctx context.Context, route pluginset.PageRoute, logger *slog.Logger) (Handler, error)
