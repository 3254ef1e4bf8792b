package registrypyro

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/plugins/registry-pyro/internal/pyro"
)

// An item's store is its data Bag in the daemon, reached through the RemoteData object
// (Bag methods, with the item named by two keywords), the way Genropy's own
// RemoteStoreBag reaches it. A store path is a Bag path: "form.title" is the node title
// inside the node form, so Python code sees store['form.title'] as Genropy code expects.
// The one difference from a flat store: a path cannot hold a value and have children
// ("a" and "a.b" together); see docs/registry-pyro.md.

func dataKw(ref abi.ItemRef) map[string]any {
	return map[string]any{
		"_siteregister_register_name":    string(ref.Register),
		"_siteregister_register_item_id": ref.ID,
	}
}

// requireItem reports ErrNotFound for a missing item. RemoteData cannot tell: gnrdaemon
// hands a fresh, unkept Bag for an unknown item.
func requireItem(ctx context.Context, s *site, ref abi.ItemRef) error {
	v, err := s.call(ctx, "exists", []any{ref.ID}, reg(ref.Register, nil))
	if err != nil {
		// Nothing was changed yet: the write that follows may be tried again.
		return fmt.Errorf("%w: %w", errBeforeWrite, err)
	}
	if v != true {
		return notFound(ref)
	}
	return nil
}

// GetData reads the node at path. A branch (a node holding a Bag) is not a value.
func (r *Registry) GetData(ctx context.Context, ref abi.ItemRef, path string) (json.RawMessage, bool, error) {
	if err := checkRef(ref); err != nil {
		return nil, false, fmt.Errorf("registry-pyro: GetData: %w", err)
	}
	if err := checkPath(path); err != nil {
		return nil, false, fmt.Errorf("registry-pyro: GetData: %w", err)
	}
	var out json.RawMessage
	var found bool
	err := r.do(ctx, "GetData", true, func(ctx context.Context, s *site) error {
		node, err := s.data.Call(ctx, "getNode", []any{path}, dataKw(ref))
		if err != nil {
			return err
		}
		obj, ok := node.(*pyro.Object)
		if !ok || obj.Class.Name != "BagNode" {
			// Unset here, or the item is missing: only the register can say which.
			return requireItem(ctx, s, ref)
		}
		value, _ := obj.Attr("_value")
		if v, ok := value.(*pyro.Object); ok && v.Class.Name == "Bag" {
			return nil
		}
		if out, err = toJSON(value); err != nil {
			return err
		}
		found = true
		return nil
	})
	return out, found, err
}

// SetData sets the node at path (setItem creates the branches on the way).
func (r *Registry) SetData(ctx context.Context, ref abi.ItemRef, path string, value json.RawMessage) error {
	if err := checkRef(ref); err != nil {
		return fmt.Errorf("registry-pyro: SetData: %w", err)
	}
	if err := checkPath(path); err != nil {
		return fmt.Errorf("registry-pyro: SetData: %w", err)
	}
	v, err := fromJSON(value)
	if err != nil {
		return fmt.Errorf("registry-pyro: SetData: %w", err)
	}
	return r.do(ctx, "SetData", false, func(ctx context.Context, s *site) error {
		if err := requireItem(ctx, s, ref); err != nil {
			return err
		}
		_, err := s.data.Call(ctx, "setItem", []any{path, v}, dataKw(ref))
		return err
	})
}

// DeleteData pops the node at path; an unset path is not an error.
func (r *Registry) DeleteData(ctx context.Context, ref abi.ItemRef, path string) error {
	if err := checkRef(ref); err != nil {
		return fmt.Errorf("registry-pyro: DeleteData: %w", err)
	}
	if err := checkPath(path); err != nil {
		return fmt.Errorf("registry-pyro: DeleteData: %w", err)
	}
	return r.do(ctx, "DeleteData", false, func(ctx context.Context, s *site) error {
		if err := requireItem(ctx, s, ref); err != nil {
			return err
		}
		_, err := s.data.Call(ctx, "pop", []any{path}, dataKw(ref))
		return err
	})
}

// readStore fetches the item's whole data Bag with get_item_data, checking the item
// exists in the same request.
func readStore(ctx context.Context, s *site, ref abi.ItemRef) (map[string]json.RawMessage, error) {
	res, err := s.register.Batch(ctx, []pyro.BatchCall{
		{Method: "exists", Args: []any{ref.ID}, Kwargs: reg(ref.Register, nil)},
		{Method: "get_item_data", Args: []any{ref.ID}, Kwargs: reg(ref.Register, nil)},
	})
	if err != nil {
		return nil, err
	}
	if res[0] != true {
		return nil, notFound(ref)
	}
	return jsonStore(res[1])
}

// DataKeys lists the paths of the store's leaves, sorted.
func (r *Registry) DataKeys(ctx context.Context, ref abi.ItemRef) ([]string, error) {
	if err := checkRef(ref); err != nil {
		return nil, fmt.Errorf("registry-pyro: DataKeys: %w", err)
	}
	var keys []string
	err := r.do(ctx, "DataKeys", true, func(ctx context.Context, s *site) error {
		store, err := readStore(ctx, s, ref)
		for k := range store {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return err
	})
	return keys, err
}

// GetStore returns every leaf of the store by path.
func (r *Registry) GetStore(ctx context.Context, ref abi.ItemRef) (map[string]json.RawMessage, error) {
	if err := checkRef(ref); err != nil {
		return nil, fmt.Errorf("registry-pyro: GetStore: %w", err)
	}
	var store map[string]json.RawMessage
	err := r.do(ctx, "GetStore", true, func(ctx context.Context, s *site) error {
		var err error
		store, err = readStore(ctx, s, ref)
		return err
	})
	return store, err
}

// ReplaceStore clears the Bag and sets every path, in one batched request.
func (r *Registry) ReplaceStore(ctx context.Context, ref abi.ItemRef, store map[string]json.RawMessage) error {
	if err := checkRef(ref); err != nil {
		return fmt.Errorf("registry-pyro: ReplaceStore: %w", err)
	}
	py, err := pythonStore(store)
	if err != nil {
		return fmt.Errorf("registry-pyro: ReplaceStore: %w", err)
	}
	return r.do(ctx, "ReplaceStore", false, func(ctx context.Context, s *site) error {
		if err := requireItem(ctx, s, ref); err != nil {
			return err
		}
		return replaceStore(ctx, s, ref, py)
	})
}

func replaceStore(ctx context.Context, s *site, ref abi.ItemRef, store map[string]any) error {
	paths := make([]string, 0, len(store))
	for p := range store {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	calls := []pyro.BatchCall{{Method: "clear", Kwargs: dataKw(ref)}}
	for _, p := range paths {
		calls = append(calls, pyro.BatchCall{Method: "setItem", Args: []any{p, store[p]}, Kwargs: dataKw(ref)})
	}
	_, err := s.data.Batch(ctx, calls)
	return err
}

// jsonStore flattens a decoded data Bag (or, from older daemons, a dict) to path -> JSON.
func jsonStore(v any) (map[string]json.RawMessage, error) {
	var flat map[string]any
	switch x := v.(type) {
	case nil:
		return map[string]json.RawMessage{}, nil
	case map[any]any:
		m, err := pyro.Dict(x)
		if err != nil {
			return nil, err
		}
		flat = m
	default:
		bag, err := pyro.DecodeBag(v)
		if err != nil {
			return nil, err
		}
		flat = bag.Flatten()
	}
	out := make(map[string]json.RawMessage, len(flat))
	for k, val := range flat {
		j, err := toJSON(val)
		if err != nil {
			return nil, fmt.Errorf("store path %q: %w", k, err)
		}
		out[k] = j
	}
	return out, nil
}
