package registrypyro

import (
	"context"
	"fmt"
	"sort"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/plugins/registry-pyro/internal/pyro"
)

// SubscribeTable calls subscribeTable.
func (r *Registry) SubscribeTable(ctx context.Context, pageID, table string, subscribe bool) error {
	if pageID == "" || table == "" {
		return fmt.Errorf("registry-pyro: SubscribeTable: %w: empty page id or table", abi.ErrInvalid)
	}
	ref := abi.ItemRef{Register: abi.RegisterPage, ID: pageID}
	return r.do(ctx, "SubscribeTable", false, func(ctx context.Context, s *site) error {
		if err := requireItem(ctx, s, ref); err != nil {
			return err
		}
		_, err := s.call(ctx, "subscribeTable", []any{pageID}, map[string]any{"table": table, "subscribe": subscribe})
		return err
	})
}

// SubscribedPages calls pages(index_name=table), gnrdaemon's table index.
func (r *Registry) SubscribedPages(ctx context.Context, table string) ([]string, error) {
	if table == "" {
		return nil, fmt.Errorf("registry-pyro: SubscribedPages: %w: empty table", abi.ErrInvalid)
	}
	var ids []string
	err := r.do(ctx, "SubscribedPages", true, func(ctx context.Context, s *site) error {
		v, err := s.call(ctx, "pages", nil, map[string]any{"index_name": table})
		ids = pageIDs(v)
		return err
	})
	return ids, err
}

func pageIDs(v any) []string {
	list, _ := v.([]any)
	ids := make([]string, 0, len(list))
	for _, p := range list {
		if m, err := pyro.Dict(p); err == nil {
			if id := str(m, "register_item_id"); id != "" {
				ids = append(ids, id)
			}
		}
	}
	sort.Strings(ids)
	return ids
}

// NotifyDbEvents calls notifyDbEvents once per table, in order of first appearance, each
// followed by pages(index_name=table) in the same batch so the notice names exactly the
// pages that got the change. Events travel as dicts {table, action, pkey, data}, the
// contract's JSON form, which is what pages read at gnr.dbchanges.<pkg_table>.
func (r *Registry) NotifyDbEvents(ctx context.Context, events []abi.DbEvent, originPageID, reason string) ([]abi.DbEventNotice, error) {
	var order []string
	byTable := map[string][]abi.DbEvent{}
	pyEvents := map[string][]any{}
	for i, ev := range events {
		if ev.Table == "" {
			return nil, fmt.Errorf("registry-pyro: NotifyDbEvents: %w: event %d has no table", abi.ErrInvalid, i)
		}
		d := map[string]any{"table": ev.Table, "action": ev.Action}
		if ev.PKey != "" {
			d["pkey"] = ev.PKey
		}
		if len(ev.Data) > 0 {
			v, err := fromJSON(ev.Data)
			if err != nil {
				return nil, fmt.Errorf("registry-pyro: NotifyDbEvents: event %d (%s): %w", i, ev.Table, err)
			}
			d["data"] = v
		}
		if _, seen := byTable[ev.Table]; !seen {
			order = append(order, ev.Table)
		}
		byTable[ev.Table] = append(byTable[ev.Table], ev)
		pyEvents[ev.Table] = append(pyEvents[ev.Table], d)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("registry-pyro: NotifyDbEvents: %w", err)
	}
	if len(order) == 0 {
		return nil, nil
	}
	calls := make([]pyro.BatchCall, 0, 2*len(order))
	for _, table := range order {
		calls = append(calls,
			pyro.BatchCall{Method: "notifyDbEvents", Kwargs: map[string]any{
				"dbeventsDict":   map[string]any{table: pyEvents[table]},
				"origin_page_id": nullable(originPageID), "dbevent_reason": nullable(reason),
				"register_name": string(abi.RegisterPage)}},
			pyro.BatchCall{Method: "pages", Kwargs: map[string]any{"index_name": table}})
	}
	var notices []abi.DbEventNotice
	err := r.do(ctx, "NotifyDbEvents", false, func(ctx context.Context, s *site) error {
		res, err := s.register.Batch(ctx, calls)
		if err != nil {
			return err
		}
		notices = make([]abi.DbEventNotice, len(order))
		for i, table := range order {
			notices[i] = abi.DbEventNotice{Table: table, Events: byTable[table], OriginPageID: originPageID,
				Reason: reason, PageIDs: pageIDs(res[2*i+1])}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	r.watchers.Broadcast(notices)
	return notices, nil
}

// WatchDbEvents: gnrdaemon has no push, so watchers see the notices sent through this
// registry (this host process) only, not the legacy site's own notifyDbEvents calls.
func (r *Registry) WatchDbEvents(ctx context.Context) (<-chan abi.DbEventNotice, error) {
	if r.closed.Load() {
		return nil, fmt.Errorf("registry-pyro: WatchDbEvents: %w: registry closed", abi.ErrUnavailable)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("registry-pyro: WatchDbEvents: %w", err)
	}
	ch, ok := r.watchers.Add(ctx)
	if !ok {
		return nil, fmt.Errorf("registry-pyro: WatchDbEvents: %w: registry closed", abi.ErrUnavailable)
	}
	return ch, nil
}
