package registrymem

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/gnrhost/gnrhost/abi"
)

// AddItem creates or replaces a user, connection or page; see the package doc for what a
// replace keeps.
func (r *Registry) AddItem(ctx context.Context, item abi.Item) error {
	if err := r.begin(ctx); err != nil {
		return wrap("add item", err)
	}
	ref := abi.ItemRef{Register: item.Register, ID: item.ID}
	if err := checkRef(ref); err != nil {
		return wrap("add item", err)
	}
	op := fmt.Sprintf("add %s %q", item.Register, item.ID)
	if item.Register == abi.RegisterGlobal {
		return wrap(op, fmt.Errorf("the global item always exists: %w", abi.ErrInvalid))
	}
	if item.Register == abi.RegisterUser {
		// The user register is keyed by user name, and connections point at it by name.
		if item.User == "" {
			item.User = item.ID
		} else if item.User != item.ID {
			return wrap(op, fmt.Errorf("User %q differs from the id: %w", item.User, abi.ErrInvalid))
		}
	}
	if item.Data != nil {
		if err := checkStore(item.Data); err != nil {
			return wrap(op, err)
		}
	}
	tables, err := dedupTables(item.SubscribedTables)
	if err != nil {
		return wrap(op, err)
	}
	item = copyItem(item)
	data := item.Data
	item.Data = nil
	item.SubscribedTables = tables

	r.mu.Lock()
	defer r.mu.Unlock()
	if item.Register == abi.RegisterPage && item.ConnectionID != "" {
		if _, ok := r.regs[abi.RegisterConnection][item.ConnectionID]; !ok {
			return wrap(op, fmt.Errorf("connection %q: %w", item.ConnectionID, abi.ErrNotFound))
		}
	}

	now := time.Now()
	reg := r.regs[item.Register]
	old, exists := reg[item.ID]
	if !exists {
		item.StartTS, item.LastRefreshTS = now, now
		item.LastUserTS, item.LastRPCTS = time.Time{}, time.Time{}
		e := newEntry(item)
		if data != nil {
			e.store = data
		}
		reg[item.ID] = e
		if item.Register == abi.RegisterPage {
			r.indexTables(item.ID, nil, item.SubscribedTables)
		}
		return nil
	}

	// Re-registration keeps the item's history and counts as a sign of life.
	item.StartTS = old.item.StartTS
	item.LastUserTS, item.LastRPCTS = old.item.LastUserTS, old.item.LastRPCTS
	item.LastRefreshTS = now
	if data != nil {
		old.store = data
		old.changes = nil
		old.paths = map[string]struct{}{}
	} else {
		merged := slices.Clone(old.item.SubscribedTables)
		for _, t := range item.SubscribedTables {
			if !slices.Contains(merged, t) {
				merged = append(merged, t)
			}
		}
		item.SubscribedTables = merged
	}
	if item.Register == abi.RegisterPage {
		r.indexTables(item.ID, old.item.SubscribedTables, item.SubscribedTables)
	}
	old.item = item
	return nil
}

// GetItem returns a copy of one item, with a copy of its store when includeData.
func (r *Registry) GetItem(ctx context.Context, ref abi.ItemRef, includeData bool) (abi.Item, error) {
	var out abi.Item
	err := r.read(ctx, "get item", ref, func(e *entry) error {
		out = copyItem(e.item)
		if includeData {
			out.Data = copyStore(e.store)
		}
		return nil
	})
	return out, err
}

// Exists reports whether the item exists; a malformed ref is still an error.
func (r *Registry) Exists(ctx context.Context, ref abi.ItemRef) (bool, error) {
	if err := r.begin(ctx); err != nil {
		return false, wrap("exists", err)
	}
	if err := checkRef(ref); err != nil {
		return false, wrap("exists", err)
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, ok := r.regs[ref.Register][ref.ID]
	return ok, nil
}

// Keys lists a register's ids, sorted.
func (r *Registry) Keys(ctx context.Context, register abi.RegisterName) ([]string, error) {
	if err := r.begin(ctx); err != nil {
		return nil, wrap("keys", err)
	}
	if !register.Valid() {
		return nil, wrap("keys", fmt.Errorf("unknown register %q: %w", register, abi.ErrInvalid))
	}
	r.mu.RLock()
	keys := make([]string, 0, len(r.regs[register]))
	for id := range r.regs[register] {
		keys = append(keys, id)
	}
	r.mu.RUnlock()
	sort.Strings(keys)
	return keys, nil
}

// Items lists a register's items matching filter, sorted by id, without their stores.
func (r *Registry) Items(ctx context.Context, register abi.RegisterName, filter abi.ItemFilter) ([]abi.Item, error) {
	if err := r.begin(ctx); err != nil {
		return nil, wrap("items", err)
	}
	if !register.Valid() {
		return nil, wrap("items", fmt.Errorf("unknown register %q: %w", register, abi.ErrInvalid))
	}
	r.mu.RLock()
	out := make([]abi.Item, 0, len(r.regs[register]))
	for _, e := range r.regs[register] {
		if matches(e.item, filter) {
			out = append(out, copyItem(e.item))
		}
	}
	r.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func matches(it abi.Item, f abi.ItemFilter) bool {
	if f.User != "" && it.User != f.User {
		return false
	}
	if f.ConnectionID != "" {
		// A connection is "of" itself; pages carry the id of theirs.
		conn := it.ConnectionID
		if it.Register == abi.RegisterConnection {
			conn = it.ID
		}
		if conn != f.ConnectionID {
			return false
		}
	}
	return true
}

// DropItem removes an item, and with cascade what hangs from it (user -> connections ->
// pages). The global item cannot be dropped.
func (r *Registry) DropItem(ctx context.Context, ref abi.ItemRef, cascade bool) error {
	if err := r.begin(ctx); err != nil {
		return wrap("drop item", err)
	}
	if err := checkRef(ref); err != nil {
		return wrap("drop item", err)
	}
	if ref.Register == abi.RegisterGlobal {
		return wrap("drop item", fmt.Errorf("the global item always exists: %w", abi.ErrInvalid))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := r.lookup(ref); err != nil {
		return wrap("drop item", err)
	}
	switch ref.Register {
	case abi.RegisterUser:
		r.dropUser(ref.ID, cascade)
	case abi.RegisterConnection:
		r.dropConnection(ref.ID, cascade)
	case abi.RegisterPage:
		r.dropPage(ref.ID)
	}
	return nil
}

// dropPage, dropConnection and dropUser need r.mu held for writing; they return the ids
// they removed so Sweep can report them.

func (r *Registry) dropPage(id string) []string {
	e, ok := r.regs[abi.RegisterPage][id]
	if !ok {
		return nil
	}
	r.indexTables(id, e.item.SubscribedTables, nil)
	delete(r.regs[abi.RegisterPage], id)
	return []string{id}
}

func (r *Registry) dropConnection(id string, cascade bool) (pages []string) {
	delete(r.regs[abi.RegisterConnection], id)
	if !cascade {
		return nil
	}
	for pid, e := range r.regs[abi.RegisterPage] {
		if e.item.ConnectionID == id {
			pages = append(pages, r.dropPage(pid)...)
		}
	}
	return pages
}

func (r *Registry) dropUser(id string, cascade bool) (conns, pages []string) {
	delete(r.regs[abi.RegisterUser], id)
	if !cascade {
		return nil, nil
	}
	for cid, e := range r.regs[abi.RegisterConnection] {
		if e.item.User == id {
			conns = append(conns, cid)
			pages = append(pages, r.dropConnection(cid, true)...)
		}
	}
	return conns, pages
}

// Touch records activity on an item; every kind counts as a refresh for expiry.
func (r *Registry) Touch(ctx context.Context, ref abi.ItemRef, kind abi.RefreshKind) error {
	return r.write(ctx, "touch", ref, func(e *entry) error {
		switch kind {
		case abi.RefreshPing, abi.RefreshUser, abi.RefreshRPC:
		default:
			return fmt.Errorf("unknown refresh kind %d: %w", kind, abi.ErrInvalid)
		}
		now := time.Now()
		e.item.LastRefreshTS = now
		switch kind {
		case abi.RefreshUser:
			e.item.LastUserTS = now
		case abi.RefreshRPC:
			e.item.LastRPCTS = now
		}
		return nil
	})
}
