package pagerpc

import (
	"encoding/json"
	"fmt"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/abi/wasmabi"
)

// The registers live in the host: every read and write is a callback, made at once and
// not undone if the call fails. A callback error wrapping abi.ErrUnavailable means the
// registry is down; the host then fails the whole call with 503 whatever the handler
// does, so handlers may simply return it.

// UserGetRaw returns the user's value at key (the user's register store is shared by all
// pages of the user) and whether it is set.
func (p *Page) UserGetRaw(key string) (json.RawMessage, bool, error) {
	if err := checkKey(key); err != nil {
		return nil, false, err
	}
	v, ok, err := p.host.UserGet(p.ctx, key)
	if err != nil {
		return nil, false, fmt.Errorf("user %s: %w", key, err)
	}
	return v, ok, nil
}

// UserGet decodes the user's value at key into v and reports whether it was set.
func (p *Page) UserGet(key string, v any) (bool, error) {
	raw, ok, err := p.UserGetRaw(key)
	if err != nil || !ok {
		return false, err
	}
	return true, decode("user "+key, raw, v)
}

// UserSet sets key in the user's store to v encoded with Marshal.
func (p *Page) UserSet(key string, v any) error {
	if err := checkKey(key); err != nil {
		return err
	}
	b, err := encode("user "+key, v)
	if err != nil {
		return err
	}
	if err := p.host.UserSet(p.ctx, key, b); err != nil {
		return fmt.Errorf("user %s: %w", key, err)
	}
	return nil
}

// GlobalGetRaw returns the site's global value at key and whether it is set.
func (p *Page) GlobalGetRaw(key string) (json.RawMessage, bool, error) {
	if err := checkKey(key); err != nil {
		return nil, false, err
	}
	v, ok, err := p.host.GlobalGet(p.ctx, key)
	if err != nil {
		return nil, false, fmt.Errorf("global %s: %w", key, err)
	}
	return v, ok, nil
}

// GlobalGet decodes the global value at key into v and reports whether it was set.
func (p *Page) GlobalGet(key string, v any) (bool, error) {
	raw, ok, err := p.GlobalGetRaw(key)
	if err != nil || !ok {
		return false, err
	}
	return true, decode("global "+key, raw, v)
}

// GlobalSet sets key in the global store to v encoded with Marshal.
func (p *Page) GlobalSet(key string, v any) error {
	if err := checkKey(key); err != nil {
		return err
	}
	b, err := encode("global "+key, v)
	if err != nil {
		return err
	}
	if err := p.host.GlobalSet(p.ctx, key, b); err != nil {
		return fmt.Errorf("global %s: %w", key, err)
	}
	return nil
}

// What the call sends back besides its store writes. The host acts on these only if the
// call succeeds.

// Push sends msg, encoded with Marshal, to the page's client (needs FeaturePush).
func (p *Page) Push(msg any) error {
	if p.features&wasmabi.FeaturePush == 0 {
		return fmt.Errorf("pagerpc: push needs FeaturePush: %w", abi.ErrNotPermitted)
	}
	if len(p.res.Pushes) >= wasmabi.MaxPushesPerCall {
		return fmt.Errorf("pagerpc: more than %d pushes in one call: %w", wasmabi.MaxPushesPerCall, abi.ErrTooLarge)
	}
	b, err := Marshal(msg)
	if err != nil {
		return fmt.Errorf("pagerpc: encode push: %w: %w", abi.ErrInvalid, err)
	}
	if len(b) > wasmabi.MaxPushBytes {
		return fmt.Errorf("pagerpc: push of %d bytes, over %d: %w", len(b), wasmabi.MaxPushBytes, abi.ErrTooLarge)
	}
	p.res.Pushes = append(p.res.Pushes, b)
	return nil
}

func (p *Page) table(table string, subscribe bool) error {
	if !abi.ValidTableName(table) {
		return fmt.Errorf("pagerpc: table %.40q: expected pkg.table: %w", table, abi.ErrInvalid)
	}
	if len(p.res.Tables) >= wasmabi.MaxTablesPerPage {
		return fmt.Errorf("pagerpc: more than %d subscription changes in one call: %w", wasmabi.MaxTablesPerPage, abi.ErrTooLarge)
	}
	p.res.Tables = append(p.res.Tables, abi.PageTableChange{Table: table, Subscribe: subscribe})
	return nil
}

// Subscribe subscribes the page to a table ("pkg.table") so it receives its dbevents.
func (p *Page) Subscribe(table string) error { return p.table(table, true) }

// Unsubscribe ends a subscription.
func (p *Page) Unsubscribe(table string) error { return p.table(table, false) }

// DBEvent is the usual event of Publish; every field is optional.
type DBEvent struct {
	Action string          `json:"action,omitempty"` // "I", "U", "D", ...
	PKey   string          `json:"pkey,omitempty"`
	Data   json.RawMessage `json:"data,omitempty"`
}

// Publish publishes a dbevent on table; ev is encoded with Marshal, must encode as a JSON
// object and is usually a DBEvent. Every page subscribed to the table, this one
// included, gets an event call after this call ends.
func (p *Page) Publish(table string, ev any) error {
	if !abi.ValidTableName(table) {
		return fmt.Errorf("pagerpc: table %.40q: expected pkg.table: %w", table, abi.ErrInvalid)
	}
	if len(p.res.Publishes) >= wasmabi.MaxPublishPerCall {
		return fmt.Errorf("pagerpc: more than %d publishes in one call: %w", wasmabi.MaxPublishPerCall, abi.ErrTooLarge)
	}
	b, err := encode("event", ev)
	if err != nil {
		return err
	}
	if !abi.IsJSONObject(b) {
		return fmt.Errorf("pagerpc: an event must be a JSON object, not %.40s: %w", b, abi.ErrInvalid)
	}
	p.res.Publishes = append(p.res.Publishes, abi.PagePublish{Table: table, Event: b})
	return nil
}
