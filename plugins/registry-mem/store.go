package registrymem

import (
	"context"
	"encoding/json"
	"sort"

	"github.com/gnrhost/gnrhost/abi"
)

// GetData returns a copy of the value at path; ok is false when the path is unset.
func (r *Registry) GetData(ctx context.Context, ref abi.ItemRef, path string) (json.RawMessage, bool, error) {
	if err := checkPath(path); err != nil {
		return nil, false, wrap("get data", err)
	}
	var (
		out json.RawMessage
		ok  bool
	)
	err := r.read(ctx, "get data", ref, func(e *entry) error {
		var v json.RawMessage
		v, ok = e.store[path]
		out = copyRaw(v)
		return nil
	})
	return out, ok, err
}

// SetData stores a copy of value at path.
func (r *Registry) SetData(ctx context.Context, ref abi.ItemRef, path string, value json.RawMessage) error {
	if err := checkPath(path); err != nil {
		return wrap("set data", err)
	}
	if err := checkValue(path, value); err != nil {
		return wrap("set data", err)
	}
	value = copyRaw(value)
	return r.write(ctx, "set data", ref, func(e *entry) error {
		e.store[path] = value
		return nil
	})
}

// DeleteData unsets path; an unset path is not an error.
func (r *Registry) DeleteData(ctx context.Context, ref abi.ItemRef, path string) error {
	if err := checkPath(path); err != nil {
		return wrap("delete data", err)
	}
	return r.write(ctx, "delete data", ref, func(e *entry) error {
		delete(e.store, path)
		return nil
	})
}

// DataKeys lists the set paths, sorted.
func (r *Registry) DataKeys(ctx context.Context, ref abi.ItemRef) ([]string, error) {
	var keys []string
	err := r.read(ctx, "data keys", ref, func(e *entry) error {
		keys = make([]string, 0, len(e.store))
		for k := range e.store {
			keys = append(keys, k)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(keys)
	return keys, nil
}

// GetStore returns a deep copy of the whole store.
func (r *Registry) GetStore(ctx context.Context, ref abi.ItemRef) (map[string]json.RawMessage, error) {
	var out map[string]json.RawMessage
	err := r.read(ctx, "get store", ref, func(e *entry) error {
		out = copyStore(e.store)
		return nil
	})
	return out, err
}

// ReplaceStore swaps in a deep copy of store (nil means empty).
func (r *Registry) ReplaceStore(ctx context.Context, ref abi.ItemRef, store map[string]json.RawMessage) error {
	if err := checkStore(store); err != nil {
		return wrap("replace store", err)
	}
	store = copyStore(store)
	return r.write(ctx, "replace store", ref, func(e *entry) error {
		e.store = store
		return nil
	})
}
