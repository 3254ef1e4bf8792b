package registrypyro

import (
	"context"
	"fmt"
	"slices"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/plugins/registry-pyro/internal/pyro"
)

// AppendDatachange calls set_datachange and reads the item's datachanges_idx in the same
// batch, so the index returned is this change's (the site daemon runs one request at a
// time).
func (r *Registry) AppendDatachange(ctx context.Context, ref abi.ItemRef, change abi.Datachange) (int64, error) {
	if err := checkRef(ref); err != nil {
		return 0, fmt.Errorf("registry-pyro: AppendDatachange: %w", err)
	}
	if err := checkPath(change.Path); err != nil {
		return 0, fmt.Errorf("registry-pyro: AppendDatachange: %w", err)
	}
	var value any
	if len(change.Value) > 0 {
		var err error
		if value, err = fromJSON(change.Value); err != nil {
			return 0, fmt.Errorf("registry-pyro: AppendDatachange: %w", err)
		}
	}
	var attrs map[string]any
	if change.Attributes != nil {
		attrs = make(map[string]any, len(change.Attributes))
		for k, v := range change.Attributes {
			attrs[k] = v
		}
	}
	var idx int64
	err := r.do(ctx, "AppendDatachange", false, func(ctx context.Context, s *site) error {
		res, err := s.register.Batch(ctx, []pyro.BatchCall{
			{Method: "set_datachange", Args: []any{ref.ID, change.Path}, Kwargs: reg(ref.Register, map[string]any{
				"value": value, "attributes": attrs, "fired": change.Fired, "reason": nullable(change.Reason),
				"replace": false, "delete": change.Delete})},
			{Method: "get_item", Args: []any{ref.ID}, Kwargs: reg(ref.Register, nil)},
		})
		if err != nil {
			return err
		}
		if res[1] == nil {
			return notFound(ref)
		}
		m, err := pyro.Dict(res[1])
		if err != nil {
			return err
		}
		idx, _ = m["datachanges_idx"].(int64)
		return nil
	})
	return idx, err
}

// nullable sends "" as None, as Genropy leaves an unset reason.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Datachanges calls get_datachanges(reset).
func (r *Registry) Datachanges(ctx context.Context, ref abi.ItemRef, reset bool) ([]abi.Datachange, error) {
	if err := checkRef(ref); err != nil {
		return nil, fmt.Errorf("registry-pyro: Datachanges: %w", err)
	}
	var out []abi.Datachange
	err := r.do(ctx, "Datachanges", !reset, func(ctx context.Context, s *site) error {
		v, err := s.call(ctx, "get_datachanges", []any{ref.ID}, reg(ref.Register, map[string]any{"reset": reset}))
		if err != nil {
			return err
		}
		if v == nil {
			return notFound(ref)
		}
		list, _ := v.([]any)
		out = make([]abi.Datachange, 0, len(list))
		for _, raw := range list {
			dc, err := pyro.DecodeClientDataChange(raw)
			if err != nil {
				return err
			}
			c, err := datachangeFrom(dc)
			if err != nil {
				return err
			}
			out = append(out, c)
		}
		return nil
	})
	return out, err
}

func datachangeFrom(dc pyro.ClientDataChange) (abi.Datachange, error) {
	value, err := toJSON(dc.Value)
	if err != nil {
		return abi.Datachange{}, fmt.Errorf("datachange %q: %w", dc.Path, err)
	}
	c := abi.Datachange{Path: dc.Path, Value: value, Reason: dc.Reason, Fired: dc.Fired,
		Delete: dc.Delete, ChangeTS: dc.ChangeTS, ChangeIdx: dc.ChangeIdx}
	if len(dc.Attributes) > 0 {
		c.Attributes = make(map[string]string, len(dc.Attributes))
		for k, v := range dc.Attributes {
			switch x := v.(type) {
			case nil:
				c.Attributes[k] = ""
			case string:
				c.Attributes[k] = x
			default:
				j, err := toJSON(x)
				if err != nil {
					return abi.Datachange{}, fmt.Errorf("datachange %q attribute %q: %w", dc.Path, k, err)
				}
				c.Attributes[k] = string(j)
			}
		}
	}
	return c, nil
}

// DropDatachanges calls drop_datachanges, which drops every change whose path starts
// with path: "a.b" drops "a.bc" too (the contract drops only "a.b" and below it).
func (r *Registry) DropDatachanges(ctx context.Context, ref abi.ItemRef, path string) error {
	if err := checkRef(ref); err != nil {
		return fmt.Errorf("registry-pyro: DropDatachanges: %w", err)
	}
	return r.do(ctx, "DropDatachanges", false, func(ctx context.Context, s *site) error {
		res, err := s.register.Batch(ctx, []pyro.BatchCall{
			{Method: "exists", Args: []any{ref.ID}, Kwargs: reg(ref.Register, nil)},
			{Method: "drop_datachanges", Args: []any{ref.ID, path}, Kwargs: reg(ref.Register, nil)},
		})
		if err != nil {
			return err
		}
		if res[0] != true {
			return notFound(ref)
		}
		return nil
	})
}

// SubscribePath adds with subscribe_path; removing rewrites the item's subscribed_paths
// set (gnrdaemon has no unsubscribe at register level).
func (r *Registry) SubscribePath(ctx context.Context, ref abi.ItemRef, path string, active bool) error {
	if err := checkRef(ref); err != nil {
		return fmt.Errorf("registry-pyro: SubscribePath: %w", err)
	}
	if err := checkPath(path); err != nil {
		return fmt.Errorf("registry-pyro: SubscribePath: %w", err)
	}
	return r.do(ctx, "SubscribePath", false, func(ctx context.Context, s *site) error {
		v, err := s.call(ctx, "get_item", []any{ref.ID}, reg(ref.Register, nil))
		if err != nil {
			return err
		}
		if v == nil {
			return notFound(ref)
		}
		if active {
			_, err = s.call(ctx, "subscribe_path", []any{ref.ID, path}, reg(ref.Register, nil))
			return err
		}
		m, err := pyro.Dict(v)
		if err != nil {
			return err
		}
		paths := slices.DeleteFunc(strList(m["subscribed_paths"]), func(p string) bool { return p == path })
		set := make(pyro.Set, len(paths))
		for i, p := range paths {
			set[i] = p
		}
		_, err = s.call(ctx, "update_item", []any{ref.ID, map[string]any{"subscribed_paths": set}}, reg(ref.Register, nil))
		return err
	})
}

// SubscribedPaths reads the item's subscribed_paths.
func (r *Registry) SubscribedPaths(ctx context.Context, ref abi.ItemRef) ([]string, error) {
	if err := checkRef(ref); err != nil {
		return nil, fmt.Errorf("registry-pyro: SubscribedPaths: %w", err)
	}
	var paths []string
	err := r.do(ctx, "SubscribedPaths", true, func(ctx context.Context, s *site) error {
		v, err := s.call(ctx, "get_item", []any{ref.ID}, reg(ref.Register, nil))
		if err != nil {
			return err
		}
		if v == nil {
			return notFound(ref)
		}
		m, err := pyro.Dict(v)
		paths = sortedStrings(m["subscribed_paths"])
		return err
	})
	return paths, err
}
