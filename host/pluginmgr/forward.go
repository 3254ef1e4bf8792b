package pluginmgr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/host/metrics"
)

// opMetrics caches the per-operation observers so a call does no label lookups.
type opMetrics struct {
	m        *metrics.Metrics
	duration map[string]prometheus.Observer
}

var opNames = []string{
	"ping", "add_item", "get_item", "exists", "keys", "items", "drop_item", "touch",
	"get_data", "set_data", "delete_data", "data_keys", "get_store", "replace_store",
	"append_datachange", "datachanges", "drop_datachanges", "subscribe_path",
	"subscribed_paths", "subscribe_table", "subscribed_pages", "notify_db_events",
	"watch_db_events", "lock_item", "unlock_item", "sweep", "counters",
}

func newOpMetrics(m *metrics.Metrics) *opMetrics {
	o := &opMetrics{m: m, duration: map[string]prometheus.Observer{}}
	if m == nil {
		return o
	}
	for _, op := range opNames {
		o.duration[op] = m.RegistryOpDuration.WithLabelValues(op)
	}
	return o
}

func (o *opMetrics) observe(op string, start time.Time, err error) {
	if o.m == nil {
		return
	}
	o.duration[op].Observe(time.Since(start).Seconds())
	if err != nil {
		kind := "other"
		switch {
		case errors.Is(err, abi.ErrUnavailable):
			kind = "unavailable"
		case errors.Is(err, abi.ErrNotFound):
			kind = "not_found"
		}
		o.m.RegistryOpErrors.WithLabelValues(op, kind).Inc()
	}
}

// call runs fn on the live backend, timing it and naming the plugin in unavailability
// errors so a 503 body can say which plugin is down.
func (s *RegistrySlot) call(op string, fn func(abi.Registry) error) error {
	start := time.Now()
	reg, err := s.backend()
	if err == nil {
		err = fn(reg)
		var down *DownError
		if err != nil && errors.Is(err, abi.ErrUnavailable) && !errors.As(err, &down) {
			st := s.Status()
			err = fmt.Errorf("%w: %w", &DownError{Slot: st.Slot, Plugin: st.Plugin, State: StateDown}, err)
		}
	}
	s.ops.observe(op, start, err)
	return err
}

var _ abi.Registry = (*RegistrySlot)(nil)

func (s *RegistrySlot) Ping(ctx context.Context) error {
	return s.call("ping", func(r abi.Registry) error { return r.Ping(ctx) })
}

func (s *RegistrySlot) AddItem(ctx context.Context, item abi.Item) error {
	return s.call("add_item", func(r abi.Registry) error { return r.AddItem(ctx, item) })
}

func (s *RegistrySlot) GetItem(ctx context.Context, ref abi.ItemRef, includeData bool) (item abi.Item, err error) {
	err = s.call("get_item", func(r abi.Registry) (err error) { item, err = r.GetItem(ctx, ref, includeData); return })
	return item, err
}

func (s *RegistrySlot) Exists(ctx context.Context, ref abi.ItemRef) (ok bool, err error) {
	err = s.call("exists", func(r abi.Registry) (err error) { ok, err = r.Exists(ctx, ref); return })
	return ok, err
}

func (s *RegistrySlot) Keys(ctx context.Context, register abi.RegisterName) (keys []string, err error) {
	err = s.call("keys", func(r abi.Registry) (err error) { keys, err = r.Keys(ctx, register); return })
	return keys, err
}

func (s *RegistrySlot) Items(ctx context.Context, register abi.RegisterName, filter abi.ItemFilter) (items []abi.Item, err error) {
	err = s.call("items", func(r abi.Registry) (err error) { items, err = r.Items(ctx, register, filter); return })
	return items, err
}

func (s *RegistrySlot) DropItem(ctx context.Context, ref abi.ItemRef, cascade bool) error {
	return s.call("drop_item", func(r abi.Registry) error { return r.DropItem(ctx, ref, cascade) })
}

func (s *RegistrySlot) Touch(ctx context.Context, ref abi.ItemRef, kind abi.RefreshKind) error {
	return s.call("touch", func(r abi.Registry) error { return r.Touch(ctx, ref, kind) })
}

func (s *RegistrySlot) GetData(ctx context.Context, ref abi.ItemRef, path string) (v json.RawMessage, ok bool, err error) {
	err = s.call("get_data", func(r abi.Registry) (err error) { v, ok, err = r.GetData(ctx, ref, path); return })
	return v, ok, err
}

func (s *RegistrySlot) SetData(ctx context.Context, ref abi.ItemRef, path string, value json.RawMessage) error {
	return s.call("set_data", func(r abi.Registry) error { return r.SetData(ctx, ref, path, value) })
}

func (s *RegistrySlot) DeleteData(ctx context.Context, ref abi.ItemRef, path string) error {
	return s.call("delete_data", func(r abi.Registry) error { return r.DeleteData(ctx, ref, path) })
}

func (s *RegistrySlot) DataKeys(ctx context.Context, ref abi.ItemRef) (keys []string, err error) {
	err = s.call("data_keys", func(r abi.Registry) (err error) { keys, err = r.DataKeys(ctx, ref); return })
	return keys, err
}

func (s *RegistrySlot) GetStore(ctx context.Context, ref abi.ItemRef) (store map[string]json.RawMessage, err error) {
	err = s.call("get_store", func(r abi.Registry) (err error) { store, err = r.GetStore(ctx, ref); return })
	return store, err
}

func (s *RegistrySlot) ReplaceStore(ctx context.Context, ref abi.ItemRef, store map[string]json.RawMessage) error {
	return s.call("replace_store", func(r abi.Registry) error { return r.ReplaceStore(ctx, ref, store) })
}

func (s *RegistrySlot) AppendDatachange(ctx context.Context, ref abi.ItemRef, change abi.Datachange) (idx int64, err error) {
	err = s.call("append_datachange", func(r abi.Registry) (err error) { idx, err = r.AppendDatachange(ctx, ref, change); return })
	return idx, err
}

func (s *RegistrySlot) Datachanges(ctx context.Context, ref abi.ItemRef, reset bool) (changes []abi.Datachange, err error) {
	err = s.call("datachanges", func(r abi.Registry) (err error) { changes, err = r.Datachanges(ctx, ref, reset); return })
	return changes, err
}

func (s *RegistrySlot) DropDatachanges(ctx context.Context, ref abi.ItemRef, path string) error {
	return s.call("drop_datachanges", func(r abi.Registry) error { return r.DropDatachanges(ctx, ref, path) })
}

func (s *RegistrySlot) SubscribePath(ctx context.Context, ref abi.ItemRef, path string, active bool) error {
	return s.call("subscribe_path", func(r abi.Registry) error { return r.SubscribePath(ctx, ref, path, active) })
}

func (s *RegistrySlot) SubscribedPaths(ctx context.Context, ref abi.ItemRef) (paths []string, err error) {
	err = s.call("subscribed_paths", func(r abi.Registry) (err error) { paths, err = r.SubscribedPaths(ctx, ref); return })
	return paths, err
}

func (s *RegistrySlot) SubscribeTable(ctx context.Context, pageID, table string, subscribe bool) error {
	return s.call("subscribe_table", func(r abi.Registry) error { return r.SubscribeTable(ctx, pageID, table, subscribe) })
}

func (s *RegistrySlot) SubscribedPages(ctx context.Context, table string) (pages []string, err error) {
	err = s.call("subscribed_pages", func(r abi.Registry) (err error) { pages, err = r.SubscribedPages(ctx, table); return })
	return pages, err
}

func (s *RegistrySlot) NotifyDbEvents(ctx context.Context, events []abi.DbEvent, originPageID, reason string) (notices []abi.DbEventNotice, err error) {
	err = s.call("notify_db_events", func(r abi.Registry) (err error) {
		notices, err = r.NotifyDbEvents(ctx, events, originPageID, reason)
		return
	})
	return notices, err
}

// WatchDbEvents watches the backend live now; a watcher whose plugin restarts sees its
// channel closed and watches again.
func (s *RegistrySlot) WatchDbEvents(ctx context.Context) (ch <-chan abi.DbEventNotice, err error) {
	err = s.call("watch_db_events", func(r abi.Registry) (err error) { ch, err = r.WatchDbEvents(ctx); return })
	return ch, err
}

func (s *RegistrySlot) LockItem(ctx context.Context, ref abi.ItemRef, reason string, ttl time.Duration) (ok bool, err error) {
	err = s.call("lock_item", func(r abi.Registry) (err error) { ok, err = r.LockItem(ctx, ref, reason, ttl); return })
	return ok, err
}

func (s *RegistrySlot) UnlockItem(ctx context.Context, ref abi.ItemRef, reason string) error {
	return s.call("unlock_item", func(r abi.Registry) error { return r.UnlockItem(ctx, ref, reason) })
}

func (s *RegistrySlot) Sweep(ctx context.Context, now time.Time) (exp abi.Expired, err error) {
	err = s.call("sweep", func(r abi.Registry) (err error) { exp, err = r.Sweep(ctx, now); return })
	return exp, err
}

func (s *RegistrySlot) Counters(ctx context.Context) (c abi.Counters, err error) {
	err = s.call("counters", func(r abi.Registry) (err error) { c, err = r.Counters(ctx); return })
	return c, err
}
