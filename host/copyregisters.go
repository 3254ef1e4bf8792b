package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

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
// already in the target are overwritten, others there are left alone; an item that goes
// away while it is copied (a guest connection expiring, a page closed) is skipped. Locks are not
// copied (they guard a request in flight, and the old set has drained), and the target
// stamps its own start times and change indexes.
func copyRegisters(ctx context.Context, from, to abi.Registry) (copyCounts, error) {
	var n copyCounts
	for _, register := range []abi.RegisterName{abi.RegisterUser, abi.RegisterConnection, abi.RegisterPage} {
		items, err := from.Items(ctx, register, abi.ItemFilter{})
		if err != nil {
			return n, fmt.Errorf("list %s register: %w", register, err)
		}
		changes, err := copyAll(ctx, from, to, register, items)
		n.datachanges += changes
		if err != nil {
			return n, err
		}
		switch register {
		case abi.RegisterUser:
			n.users = len(items)
		case abi.RegisterConnection:
			n.connections = len(items)
		default:
			n.pages = len(items)
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

// copyWorkers is how many items are copied at once: registry calls are round trips (to
// a plugin process, to gnrdaemon), and overlapping them shortens the copy, during which
// requests are held.
const copyWorkers = 8

// copyAll copies one register's items with copyWorkers at a time; it stops at the
// first error.
func copyAll(ctx context.Context, from, to abi.Registry, register abi.RegisterName, items []abi.Item) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan string)
	var (
		mu       sync.Mutex
		firstErr error
		changes  int
		wg       sync.WaitGroup
	)
	for range min(copyWorkers, len(items)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range next {
				c, err := copyItem(ctx, from, to, abi.ItemRef{Register: register, ID: id})
				mu.Lock()
				changes += c
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("copy %s %q: %w", register, id, err)
					cancel()
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for _, it := range items {
		select {
		case next <- it.ID:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return changes, firstErr
}

func copyItem(ctx context.Context, from, to abi.Registry, ref abi.ItemRef) (int, error) {
	n, err := copyItemOnce(ctx, from, to, ref)
	if errors.Is(err, abi.ErrNotFound) {
		// The item went away during the copy (expired, closed), or its connection did:
		// it is not copied, and what was copied of it is removed again.
		if derr := to.DropItem(ctx, ref, false); derr != nil && !errors.Is(derr, abi.ErrNotFound) {
			return 0, derr
		}
		return 0, nil
	}
	return n, err
}

func copyItemOnce(ctx context.Context, from, to abi.Registry, ref abi.ItemRef) (int, error) {
	it, err := from.GetItem(ctx, ref, true)
	if err != nil {
		return 0, err
	}
	if it.Data == nil {
		it.Data = map[string]json.RawMessage{}
	}
	if err := to.AddItem(ctx, it); err != nil {
		return 0, err
	}
	changes, err := from.Datachanges(ctx, ref, false)
	if err != nil {
		return 0, err
	}
	// The item may have existed in the target with changes of its own: the copy replaces
	// them, so a client does not see a change twice.
	if err := to.DropDatachanges(ctx, ref, ""); err != nil {
		return 0, err
	}
	for _, c := range changes {
		if _, err := to.AppendDatachange(ctx, ref, c); err != nil {
			return 0, err
		}
	}
	paths, err := from.SubscribedPaths(ctx, ref)
	if err != nil {
		return 0, err
	}
	for _, p := range paths {
		if err := to.SubscribePath(ctx, ref, p, true); err != nil {
			return 0, err
		}
	}
	return len(changes), nil
}
