package host

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/gnrhost/gnrhost/abi"
)

// copyCounts says what copyRegisters moved.
type copyCounts struct {
	users, connections, pages, datachanges int
}

func (c copyCounts) String() string {
	return fmt.Sprintf("%d users, %d connections, %d pages, %d pending datachanges, global store",
		c.users, c.connections, c.pages, c.datachanges)
}

// copyRegisters copies every register from one registry to another (a swap between
// registry plugins, e.g. registry-pyro -> registry-mem): users, then connections, then
// pages (a page needs its connection), each with its store, pending datachanges, path
// subscriptions and, for pages, subscribed tables; and the global item's store. Items
// already in the target are overwritten, others there are left alone. Locks are not
// copied (they guard a request in flight, and the old set has drained), and the target
// stamps its own start times and change indexes.
func copyRegisters(ctx context.Context, from, to abi.Registry) (copyCounts, error) {
	var n copyCounts
	for _, register := range []abi.RegisterName{abi.RegisterUser, abi.RegisterConnection, abi.RegisterPage} {
		items, err := from.Items(ctx, register, abi.ItemFilter{})
		if err != nil {
			return n, fmt.Errorf("list %s register: %w", register, err)
		}
		for _, listed := range items {
			ref := abi.ItemRef{Register: register, ID: listed.ID}
			if err := copyItem(ctx, from, to, ref, &n); err != nil {
				return n, fmt.Errorf("copy %s %q: %w", register, listed.ID, err)
			}
			switch register {
			case abi.RegisterUser:
				n.users++
			case abi.RegisterConnection:
				n.connections++
			default:
				n.pages++
			}
		}
	}
	global := abi.ItemRef{Register: abi.RegisterGlobal, ID: abi.GlobalItemID}
	store, err := from.GetStore(ctx, global)
	if err != nil {
		return n, fmt.Errorf("read global store: %w", err)
	}
	if err := to.ReplaceStore(ctx, global, store); err != nil {
		return n, fmt.Errorf("write global store: %w", err)
	}
	return n, nil
}

func copyItem(ctx context.Context, from, to abi.Registry, ref abi.ItemRef, n *copyCounts) error {
	it, err := from.GetItem(ctx, ref, true)
	if err != nil {
		return err
	}
	if it.Data == nil {
		it.Data = map[string]json.RawMessage{}
	}
	if err := to.AddItem(ctx, it); err != nil {
		return err
	}
	changes, err := from.Datachanges(ctx, ref, false)
	if err != nil {
		return err
	}
	// The item may have existed in the target with changes of its own: the copy replaces
	// them, so a client does not see a change twice.
	if err := to.DropDatachanges(ctx, ref, ""); err != nil {
		return err
	}
	for _, c := range changes {
		if _, err := to.AppendDatachange(ctx, ref, c); err != nil {
			return err
		}
		n.datachanges++
	}
	paths, err := from.SubscribedPaths(ctx, ref)
	if err != nil {
		return err
	}
	for _, p := range paths {
		if err := to.SubscribePath(ctx, ref, p, true); err != nil {
			return err
		}
	}
	return nil
}
