package pagerpc

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/abi/wasmabi"
)

// The page store: the call's snapshot with its writes laid over it, so a write is seen
// by the rest of the call at once, as in the WASM ABI, and travels back to the host as a
// change only. The snapshot itself is never modified.

// StoreGetRaw returns the page store's JSON value at key and whether it is set.
func (p *Page) StoreGetRaw(key string) (json.RawMessage, bool) {
	if p.deleted[key] {
		return nil, false
	}
	if v, ok := p.pending[key]; ok {
		return v, true
	}
	v, ok := p.call.Store[key]
	return v, ok
}

// StoreGet decodes the page store's value at key into v (with encoding/json) and reports
// whether the key was set. An unset key leaves v unchanged.
func (p *Page) StoreGet(key string, v any) (bool, error) {
	raw, ok := p.StoreGetRaw(key)
	if !ok {
		return false, nil
	}
	return true, decode("store "+key, raw, v)
}

// StoreSet sets key in the page store to v encoded with Marshal. The client receives it
// as a datachange; the host saves it only if the call succeeds.
func (p *Page) StoreSet(key string, v any) error {
	if err := checkKey(key); err != nil {
		return err
	}
	b, err := encode("store "+key, v)
	if err != nil {
		return err
	}
	size := p.storeBytes + len(key) + len(b)
	if old, ok := p.StoreGetRaw(key); ok {
		size -= len(key) + len(old)
	}
	if size > wasmabi.MaxStoreBytes {
		return fmt.Errorf("pagerpc: store %s: the page store would be %d bytes, over %d: %w", key, size, wasmabi.MaxStoreBytes, abi.ErrTooLarge)
	}
	p.storeBytes = size
	if p.pending == nil {
		p.pending = map[string]json.RawMessage{}
	}
	p.pending[key] = b
	delete(p.deleted, key)
	p.res.Changes = append(p.res.Changes, abi.PageStoreChange{Key: key, Value: b})
	return nil
}

// StoreDelete removes key from the page store (no error when unset). The client receives
// a datachange with delete: true.
func (p *Page) StoreDelete(key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	old, ok := p.StoreGetRaw(key)
	if !ok {
		return nil
	}
	p.storeBytes -= len(key) + len(old)
	delete(p.pending, key)
	if _, inSnapshot := p.call.Store[key]; inSnapshot {
		if p.deleted == nil {
			p.deleted = map[string]bool{}
		}
		p.deleted[key] = true
	}
	p.res.Changes = append(p.res.Changes, abi.PageStoreChange{Key: key, Delete: true})
	return nil
}

// StoreKeys lists the page store's keys, sorted.
func (p *Page) StoreKeys() []string {
	keys := make([]string, 0, len(p.call.Store)+len(p.pending))
	for k := range p.call.Store {
		if _, overlaid := p.pending[k]; !overlaid && !p.deleted[k] {
			keys = append(keys, k)
		}
	}
	for k := range p.pending {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
