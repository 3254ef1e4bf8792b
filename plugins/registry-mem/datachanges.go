package registrymem

import (
	"context"
	"strings"
	"time"

	"github.com/gnrhost/gnrhost/abi"
)

// AppendDatachange queues a copy of change for the item's client and returns its index.
// An empty Value is allowed (a delete or a fired event carries none); a non-empty one must
// be JSON.
func (r *Registry) AppendDatachange(ctx context.Context, ref abi.ItemRef, change abi.Datachange) (int64, error) {
	if err := checkPath(change.Path); err != nil {
		return 0, wrap("append datachange", err)
	}
	if len(change.Value) > 0 {
		if err := checkValue(change.Path, change.Value); err != nil {
			return 0, wrap("append datachange", err)
		}
	}
	change = copyChange(change)
	var idx int64
	err := r.write(ctx, "append datachange", ref, func(e *entry) error {
		idx = e.appendChange(change, time.Now())
		return nil
	})
	return idx, err
}

// appendChange stamps and queues a change the caller already owns; r.mu must be held.
func (e *entry) appendChange(c abi.Datachange, now time.Time) int64 {
	e.changeIdx++
	c.ChangeIdx = e.changeIdx
	c.ChangeTS = now
	e.changes = append(e.changes, c)
	return c.ChangeIdx
}

// Datachanges returns copies of the pending changes in append order; reset removes them.
func (r *Registry) Datachanges(ctx context.Context, ref abi.ItemRef, reset bool) ([]abi.Datachange, error) {
	var out []abi.Datachange
	collect := func(e *entry) error {
		out = make([]abi.Datachange, len(e.changes))
		for i, c := range e.changes {
			out[i] = copyChange(c)
		}
		if reset {
			e.changes = nil
		}
		return nil
	}
	var err error
	if reset {
		err = r.write(ctx, "datachanges", ref, collect)
	} else {
		err = r.read(ctx, "datachanges", ref, collect)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DropDatachanges removes the pending changes at path and below it, by dotted path
// segments: "a.b" drops "a.b" and "a.b.c" but not "a.bc". "" drops all.
func (r *Registry) DropDatachanges(ctx context.Context, ref abi.ItemRef, path string) error {
	return r.write(ctx, "drop datachanges", ref, func(e *entry) error {
		if path == "" {
			e.changes = nil
			return nil
		}
		kept := e.changes[:0]
		for _, c := range e.changes {
			if !underPath(c.Path, path) {
				kept = append(kept, c)
			}
		}
		// Clear the tail so dropped values are not kept alive by the backing array.
		clear(e.changes[len(kept):])
		e.changes = kept
		return nil
	})
}

func underPath(p, prefix string) bool {
	return p == prefix || strings.HasPrefix(p, prefix+".")
}
