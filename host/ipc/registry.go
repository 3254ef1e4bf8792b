package ipc

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/gnrhost/gnrhost/abi"
)

// Registry is a process's registry as the host uses it under the nats backend: every call
// goes to the process's own registry (Inner) except
//
//   - NotifyDbEvents, which delivers locally and then publishes the events to the other
//     processes (whose Bus.OnDbEvents handler calls DeliverRemote);
//   - the global item's store (GetData, SetData, DeleteData, DataKeys, GetStore,
//     ReplaceStore, and GetItem's Data), which lives in the site's key-value bucket.
//
// The global item's datachanges, path subscriptions and lock stay in the process.
type Registry struct {
	abi.Registry
	bus    *Bus
	logger *slog.Logger
}

// NewRegistry wraps inner. Closing the Registry closes inner; the Bus is the caller's.
func NewRegistry(inner abi.Registry, bus *Bus) *Registry {
	return &Registry{Registry: inner, bus: bus, logger: bus.logger}
}

// Inner is the process's own registry.
func (r *Registry) Inner() abi.Registry { return r.Registry }

// Bus is the connection the Registry publishes on.
func (r *Registry) Bus() *Bus { return r.bus }

// NotifyDbEvents delivers events to this process's subscribed pages (the inner registry,
// whose notices the caller delivers) and publishes them for the other processes. The
// publish happens even when the local delivery fails: other processes' pages are not
// less subscribed for it. A failed publish is counted and logged, not returned.
func (r *Registry) NotifyDbEvents(ctx context.Context, events []abi.DbEvent, originPageID, reason string) ([]abi.DbEventNotice, error) {
	notices, err := r.Registry.NotifyDbEvents(ctx, events, originPageID, reason)
	if !IsRemote(reason) {
		_ = r.bus.PublishDbEvents(events, originPageID, reason)
	}
	return notices, err
}

// DeliverRemote notifies another process's events in the inner registry, with a reason
// that marks them remote: the registry's watchers (the page manager's) deliver them to
// this process's pages, and nothing publishes them again.
func (r *Registry) DeliverRemote(ctx context.Context, msg DbEventsMessage) error {
	for i := range msg.Events {
		// The subject named the table; an event that claims another is not trusted.
		msg.Events[i].Table = msg.Table
	}
	if _, err := r.Registry.NotifyDbEvents(ctx, msg.Events, msg.OriginPageID, RemoteReason(msg.Origin, msg.Reason)); err != nil {
		r.bus.count("", "deliver")
		return fmt.Errorf("ipc: deliver dbevents from %s: %w", msg.Origin, err)
	}
	return nil
}

func isGlobal(ref abi.ItemRef) bool {
	return ref.Register == abi.RegisterGlobal && ref.ID == abi.GlobalItemID
}

// GetItem fills the global item's Data from the shared store.
func (r *Registry) GetItem(ctx context.Context, ref abi.ItemRef, includeData bool) (abi.Item, error) {
	item, err := r.Registry.GetItem(ctx, ref, false)
	if err != nil || !includeData {
		return item, err
	}
	if isGlobal(ref) {
		item.Data, err = r.bus.global.All(ctx)
		return item, err
	}
	return r.Registry.GetItem(ctx, ref, true)
}

// GetData reads the shared store for the global item.
func (r *Registry) GetData(ctx context.Context, ref abi.ItemRef, path string) (json.RawMessage, bool, error) {
	if isGlobal(ref) {
		return r.bus.global.Get(ctx, path)
	}
	return r.Registry.GetData(ctx, ref, path)
}

// SetData writes the shared store for the global item.
func (r *Registry) SetData(ctx context.Context, ref abi.ItemRef, path string, value json.RawMessage) error {
	if isGlobal(ref) {
		return r.bus.global.Set(ctx, path, value)
	}
	return r.Registry.SetData(ctx, ref, path, value)
}

// DeleteData deletes from the shared store for the global item.
func (r *Registry) DeleteData(ctx context.Context, ref abi.ItemRef, path string) error {
	if isGlobal(ref) {
		return r.bus.global.Delete(ctx, path)
	}
	return r.Registry.DeleteData(ctx, ref, path)
}

// DataKeys lists the shared store's paths for the global item.
func (r *Registry) DataKeys(ctx context.Context, ref abi.ItemRef) ([]string, error) {
	if isGlobal(ref) {
		return r.bus.global.Keys(ctx)
	}
	return r.Registry.DataKeys(ctx, ref)
}

// GetStore copies the shared store for the global item.
func (r *Registry) GetStore(ctx context.Context, ref abi.ItemRef) (map[string]json.RawMessage, error) {
	if isGlobal(ref) {
		return r.bus.global.All(ctx)
	}
	return r.Registry.GetStore(ctx, ref)
}

// ReplaceStore replaces the shared store for the global item.
func (r *Registry) ReplaceStore(ctx context.Context, ref abi.ItemRef, store map[string]json.RawMessage) error {
	if isGlobal(ref) {
		return r.bus.global.Replace(ctx, store)
	}
	return r.Registry.ReplaceStore(ctx, ref, store)
}
