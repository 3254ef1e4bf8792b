package registrymem

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gnrhost/gnrhost/abi"
)

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

	r.watchers.Broadcast(notices)
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
	ch, ok := r.watchers.Add(ctx)
	if !ok {
		return nil, wrap("watch db events", errClosed)
	}
	return ch, nil
}

// Dropped counts the notices lost because a watcher's buffer was full.
func (r *Registry) Dropped() uint64 { return r.watchers.Dropped() }
