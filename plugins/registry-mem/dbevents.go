package registrymem

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gnrhost/gnrhost/abi"
)

// watchBuffer bounds each watcher's backlog: a watcher this far behind is not keeping up,
// and NotifyDbEvents (on the db commit path) must not wait for it.
const watchBuffer = 256

type watcher struct {
	ch   chan abi.DbEventNotice
	stop func() bool // stops the context.AfterFunc that would remove the watcher
}

// NotifyDbEvents queues each table's events on the pages subscribed to it and tells the
// watchers, one notice per table in order of first appearance in events.
func (r *Registry) NotifyDbEvents(ctx context.Context, events []abi.DbEvent, originPageID, reason string) ([]abi.DbEventNotice, error) {
	const op = "notify db events"
	if err := r.begin(ctx); err != nil {
		return nil, wrap(op, err)
	}
	var order []string
	byTable := map[string][]abi.DbEvent{}
	for i, ev := range events {
		if ev.Table == "" {
			return nil, wrap(op, fmt.Errorf("event %d has no table: %w", i, abi.ErrInvalid))
		}
		if len(ev.Data) > 0 && !json.Valid(ev.Data) {
			return nil, wrap(op, fmt.Errorf("event %d (%s): data is not valid JSON: %w", i, ev.Table, abi.ErrInvalid))
		}
		if _, seen := byTable[ev.Table]; !seen {
			order = append(order, ev.Table)
		}
		ev.Data = copyRaw(ev.Data)
		byTable[ev.Table] = append(byTable[ev.Table], ev)
	}
	if len(order) == 0 {
		return nil, nil
	}

	// Encode outside the lock; every page gets its own copy of the bytes.
	values := make(map[string]json.RawMessage, len(order))
	for _, table := range order {
		v, err := json.Marshal(byTable[table])
		if err != nil {
			return nil, wrap(op, fmt.Errorf("encode %s events: %w", table, err))
		}
		values[table] = v
	}

	notices := make([]abi.DbEventNotice, 0, len(order))
	r.mu.Lock()
	now := time.Now()
	for _, table := range order {
		pages := r.pagesOf(table)
		for _, pid := range pages {
			e := r.regs[abi.RegisterPage][pid]
			e.appendChange(abi.Datachange{
				Path:  abi.DbChangesPath(table),
				Value: copyRaw(values[table]),
				Attributes: map[string]string{
					"from_page_id":   originPageID,
					"dbevent_reason": reason,
				},
			}, now)
		}
		notices = append(notices, abi.DbEventNotice{
			Table:        table,
			Events:       byTable[table],
			OriginPageID: originPageID,
			Reason:       reason,
			PageIDs:      pages,
		})
	}
	r.mu.Unlock()

	r.broadcast(notices)
	out := make([]abi.DbEventNotice, len(notices))
	for i, n := range notices {
		out[i] = copyNotice(n)
	}
	return out, nil
}

// WatchDbEvents registers a watcher until ctx ends or the registry closes.
func (r *Registry) WatchDbEvents(ctx context.Context) (<-chan abi.DbEventNotice, error) {
	if err := r.begin(ctx); err != nil {
		return nil, wrap("watch db events", err)
	}
	w := &watcher{ch: make(chan abi.DbEventNotice, watchBuffer)}
	r.watchMu.Lock()
	defer r.watchMu.Unlock()
	if r.watchClosed {
		return nil, wrap("watch db events", errClosed)
	}
	r.watchers[w] = struct{}{}
	// AfterFunc instead of a goroutine per watcher: nothing runs until ctx ends, and Close
	// can cancel it. Set under watchMu so Close never reads a half-built watcher.
	w.stop = context.AfterFunc(ctx, func() { r.removeWatcher(w) })
	return w.ch, nil
}

// Dropped counts the notices lost because a watcher's buffer was full.
func (r *Registry) Dropped() uint64 { return r.dropped.Load() }

func (r *Registry) broadcast(notices []abi.DbEventNotice) {
	r.watchMu.RLock()
	defer r.watchMu.RUnlock()
	for w := range r.watchers {
		for _, n := range notices {
			select {
			case w.ch <- copyNotice(n):
			default:
				r.dropped.Add(1)
			}
		}
	}
}

func (r *Registry) removeWatcher(w *watcher) {
	r.watchMu.Lock()
	defer r.watchMu.Unlock()
	if _, ok := r.watchers[w]; ok {
		delete(r.watchers, w)
		close(w.ch)
	}
}

func (r *Registry) closeWatchers() {
	r.watchMu.Lock()
	defer r.watchMu.Unlock()
	r.watchClosed = true
	for w := range r.watchers {
		w.stop()
		delete(r.watchers, w)
		close(w.ch)
	}
}
