package registrymem

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/gnrhost/gnrhost/abi"
)

// SubscribePath turns a store-path subscription on or off.
func (r *Registry) SubscribePath(ctx context.Context, ref abi.ItemRef, path string, active bool) error {
	if err := checkPath(path); err != nil {
		return wrap("subscribe path", err)
	}
	return r.write(ctx, "subscribe path", ref, func(e *entry) error {
		if active {
			e.paths[path] = struct{}{}
		} else {
			delete(e.paths, path)
		}
		return nil
	})
}

// SubscribedPaths lists the active path subscriptions, sorted.
func (r *Registry) SubscribedPaths(ctx context.Context, ref abi.ItemRef) ([]string, error) {
	var out []string
	err := r.read(ctx, "subscribed paths", ref, func(e *entry) error {
		out = make([]string, 0, len(e.paths))
		for p := range e.paths {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(out)
	return out, nil
}

// SubscribeTable adds table at the end of a page's subscribed tables (once) or removes it.
func (r *Registry) SubscribeTable(ctx context.Context, pageID, table string, subscribe bool) error {
	if table == "" {
		return wrap("subscribe table", fmt.Errorf("empty table name: %w", abi.ErrInvalid))
	}
	ref := abi.ItemRef{Register: abi.RegisterPage, ID: pageID}
	return r.write(ctx, "subscribe table", ref, func(e *entry) error {
		old := e.item.SubscribedTables
		has := slices.Contains(old, table)
		switch {
		case subscribe && !has:
			e.item.SubscribedTables = append(slices.Clone(old), table)
		case !subscribe && has:
			e.item.SubscribedTables = slices.DeleteFunc(slices.Clone(old), func(t string) bool { return t == table })
		default:
			return nil
		}
		r.indexTables(pageID, old, e.item.SubscribedTables)
		return nil
	})
}

// SubscribedPages lists the pages subscribed to table, sorted.
func (r *Registry) SubscribedPages(ctx context.Context, table string) ([]string, error) {
	if err := r.begin(ctx); err != nil {
		return nil, wrap("subscribed pages", err)
	}
	if table == "" {
		return nil, wrap("subscribed pages", fmt.Errorf("empty table name: %w", abi.ErrInvalid))
	}
	r.mu.RLock()
	out := r.pagesOf(table)
	r.mu.RUnlock()
	return out, nil
}

// pagesOf returns the sorted pages subscribed to table; r.mu must be held.
func (r *Registry) pagesOf(table string) []string {
	set := r.tables[table]
	out := make([]string, 0, len(set))
	for id := range set {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// indexTables moves page id in the table index from the old table list to the new one;
// r.mu must be held for writing.
func (r *Registry) indexTables(pageID string, old, cur []string) {
	for _, t := range old {
		if slices.Contains(cur, t) {
			continue
		}
		if set := r.tables[t]; set != nil {
			delete(set, pageID)
			if len(set) == 0 {
				delete(r.tables, t)
			}
		}
	}
	for _, t := range cur {
		set := r.tables[t]
		if set == nil {
			set = map[string]struct{}{}
			r.tables[t] = set
		}
		set[pageID] = struct{}{}
	}
}
