package pagerpc

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/abi/wasmabi"
)

// Page is one call of a page plugin, seen as ordinary Go: the page store (a snapshot
// with this call's writes laid over it), the user's and the site's registers (through
// the host), and what the call sends back (reply, store changes, pushes, publishes,
// subscriptions). It is valid only during the call that made it and is not safe for
// concurrent use.
//
// Methods check the page ABI's rules and limits (abi/wasm-abi.md sections 3 and 7) and
// return errors wrapping abi.ErrInvalid, abi.ErrTooLarge or abi.ErrNotPermitted where
// the WASM host functions return INVALID, TOO_LARGE or NOT_PERMITTED. The host checks
// the result again: these checks only tell the author early.
type Page struct {
	ctx      context.Context
	call     abi.PageCall
	host     abi.PageHost
	features uint64
	query    map[string]string

	pending    map[string]json.RawMessage // this call's writes
	deleted    map[string]bool            // this call's deletes of snapshot keys
	storeBytes int                        // size of the store as this call sees it

	res abi.PageResult
}

// NewPage wraps one call. features are the feature bits the handler asked for (Push
// needs FeaturePush). NewHandler does this for every call; a plugin implementing
// abi.PageHandler itself may use it too.
func NewPage(ctx context.Context, call abi.PageCall, host abi.PageHost, features uint64) *Page {
	p := &Page{ctx: ctx, call: call, host: host, features: features}
	for k, v := range call.Store {
		p.storeBytes += len(k) + len(v)
	}
	return p
}

// Context is the call's context: it carries the route's deadline and ends when the host
// gives up on the call. Pass it to anything slow the handler does.
func (p *Page) Context() context.Context { return p.ctx }

// Entry is the entry point: abi.PageEntryLoad, PageEntryRPC, PageEntryEvent or
// PageEntryClose.
func (p *Page) Entry() string { return p.call.Entry }

// Method is the RPC method name ("" outside RPC).
func (p *Page) Method() string { return p.call.Method }

// Input is the call's input JSON (abi/wasm-abi.md section 6): {"query":{...}} for load,
// the params for rpc, the event object for event, {"reason":...} for close.
func (p *Page) Input() json.RawMessage { return p.call.Input }

// Info returns the page's ids, user, route and lifecycle.
func (p *Page) Info() abi.PageInfo { return p.call.Page }

// Query returns a query parameter of the request that loaded the page ("" if absent).
// It is meant for load; other entry points have no query.
func (p *Page) Query(name string) string {
	if p.query == nil {
		var in struct {
			Query map[string]string `json:"query"`
		}
		_ = json.Unmarshal(p.call.Input, &in) // no query is the answer to bad input
		p.query = in.Query
		if p.query == nil {
			p.query = map[string]string{}
		}
	}
	return p.query[name]
}

// Log writes a log line; the host tags it with the page and route and cuts it at 8 KiB.
// level is wasmabi.LogDebug..LogError.
func (p *Page) Log(level int, msg string) {
	if len(msg) > wasmabi.MaxLogBytes {
		msg = msg[:wasmabi.MaxLogBytes]
	}
	p.host.Log(p.ctx, level, msg)
}

func checkKey(key string) error {
	if !abi.ValidPageKey(key) {
		return fmt.Errorf("pagerpc: key %.40q: 1-256 bytes of UTF-8 without control characters: %w", key, abi.ErrInvalid)
	}
	return nil
}

// encode marshals v for a store, register or event, within the one-value limit.
func encode(what string, v any) ([]byte, error) {
	b, err := Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("pagerpc: encode %s: %w: %w", what, abi.ErrInvalid, err)
	}
	if len(b) > wasmabi.MaxValueBytes {
		return nil, fmt.Errorf("pagerpc: %s is %d bytes, over %d: %w", what, len(b), wasmabi.MaxValueBytes, abi.ErrTooLarge)
	}
	return b, nil
}

// decode unmarshals raw into v, naming what failed.
func decode(what string, raw []byte, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("pagerpc: decode %s: %w", what, err)
	}
	return nil
}
