package pagerpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/abi/wasmabi"
)

// Entries are a page's entry points as ordinary Go functions, the same shapes as the Go
// WASM SDK's handler (sdk/go/gnr), so a page moves between the two by changing little
// more than its imports.
//
// An entry that returns an error fails the call. An Error (UnknownMethod, BadParams...)
// becomes the error reply the client sees, any other error the reply
// {"code":"guest_error"}; but an error wrapping abi.ErrUnavailable or a context error
// fails the call itself (HTTP 503 or 504), since the host could not serve it. A panic
// fails the call with HTTP 500 and leaves the plugin running.
type Entries struct {
	// Load returns the page's HTML (required).
	Load func(p *Page) (html string, err error)
	// RPC returns the result of method, encoded with Marshal (required). params is a
	// JSON object.
	RPC func(p *Page, method string, params json.RawMessage) (result any, err error)
	// Event handles dbevents on the tables the page subscribed to; p.Input() is the
	// event object (abi/wasm-abi.md section 6). Needs FeatureEvents.
	Event func(p *Page) error
	// Close runs when the page goes away; reason is one of wasmabi.Close*. Needs
	// FeatureClose.
	Close func(p *Page, reason string) error
}

// handler adapts Entries to abi.PageHandler.
type handler struct {
	features uint64
	e        Entries
}

// NewHandler returns the abi.PageHandler to Serve for e with the given feature bits
// (wasmabi.FeatureEvents, FeatureClose, FeaturePush). It panics, as gnr.Register does, if
// Load or RPC is missing or a feature names an entry e lacks: that is a wiring bug of
// the plugin, best found when it starts.
func NewHandler(features uint64, e Entries) abi.PageHandler {
	switch {
	case e.Load == nil || e.RPC == nil:
		panic("pagerpc: NewHandler needs Load and RPC")
	case features&wasmabi.FeatureEvents != 0 && e.Event == nil:
		panic("pagerpc: FeatureEvents needs an Event entry")
	case features&wasmabi.FeatureClose != 0 && e.Close == nil:
		panic("pagerpc: FeatureClose needs a Close entry")
	}
	return &handler{features: features, e: e}
}

func (h *handler) Features(context.Context) (uint64, error) { return h.features, nil }

func (h *handler) Call(ctx context.Context, call abi.PageCall, host abi.PageHost) (abi.PageResult, error) {
	p := NewPage(ctx, call, host, h.features)
	if err := h.run(p); err != nil {
		if errors.Is(err, abi.ErrUnavailable) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return abi.PageResult{}, err
		}
		p.Fail(err)
	}
	return p.Result(), nil
}

func (h *handler) run(p *Page) error {
	switch p.Entry() {
	case abi.PageEntryLoad:
		html, err := h.e.Load(p)
		if err != nil {
			return err
		}
		return p.Reply([]byte(html))
	case abi.PageEntryRPC:
		result, err := h.e.RPC(p, p.Method(), p.Input())
		if err != nil {
			return err
		}
		b, err := Marshal(result)
		if err != nil {
			return fmt.Errorf("pagerpc: encode the result of %s: %w", p.Method(), err)
		}
		return p.Reply(b)
	case abi.PageEntryEvent:
		if h.e.Event == nil {
			return nil
		}
		return h.e.Event(p)
	case abi.PageEntryClose:
		if h.e.Close == nil {
			return nil
		}
		var in struct {
			Reason string `json:"reason"`
		}
		if err := json.Unmarshal(p.Input(), &in); err != nil {
			return fmt.Errorf("pagerpc: close input: %w", err)
		}
		return h.e.Close(p, in.Reason)
	}
	return fmt.Errorf("pagerpc: unknown entry point %q: %w", p.Entry(), abi.ErrInvalid)
}
