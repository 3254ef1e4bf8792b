package pages

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/host/wasm"
)

// eventTimeout bounds one event delivery, queue time included.
const eventTimeout = 30 * time.Second

type eventInput struct {
	Kind         string        `json:"kind"`
	Table        string        `json:"table"`
	Events       []abi.DbEvent `json:"events"`
	OriginPageID string        `json:"origin_page_id"`
}

// publish turns a call's publishes into dbevents through the registry and delivers them.
func (m *Manager) publish(ctx context.Context, origin string, pubs []wasm.Publish) {
	events := make([]abi.DbEvent, 0, len(pubs))
	for _, p := range pubs {
		var ev struct {
			Action string          `json:"action"`
			PKey   string          `json:"pkey"`
			Data   json.RawMessage `json:"data"`
		}
		_ = json.Unmarshal(p.Event, &ev) // the runtime checked it is a JSON object
		events = append(events, abi.DbEvent{Table: p.Table, Action: ev.Action, PKey: ev.PKey, Data: ev.Data})
	}
	if _, err := m.Notify(ctx, events, origin, "page"); err != nil {
		m.logger.Warn("publish dbevents", "origin_page_id", origin, "err", err)
	}
}

// Notify delivers table changes: the registry appends them to every subscribed page's
// datachanges, and every such page this host can run gets its event entry (on the
// executor pool, after this returns). It returns the registry's notices.
func (m *Manager) Notify(ctx context.Context, events []abi.DbEvent, origin, reason string) ([]abi.DbEventNotice, error) {
	notices, err := m.cfg.Registry.NotifyDbEvents(ctx, events, origin, m.reasonPrefix+reason)
	if err != nil {
		return nil, err
	}
	for _, n := range notices {
		input, _ := json.Marshal(eventInput{Kind: "dbevent", Table: n.Table, Events: n.Events, OriginPageID: n.OriginPageID})
		for _, id := range n.PageIDs {
			m.deliverEvent(id, input)
		}
	}
	return notices, nil
}

// deliverEvent queues a dbevent for a page; the page's dispatcher shard runs it.
func (m *Manager) deliverEvent(pageID string, input []byte) {
	if !m.events.send(delivery{pageID: pageID, input: input}) {
		if met := m.cfg.Metrics; met != nil {
			met.EventsDropped.Inc()
		}
		m.logger.Warn("dbevent dropped: the page's delivery queue is full", "page_id", pageID)
	}
}

func (m *Manager) runEvent(d delivery) {
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	_, err := m.callPage(ctx, d.pageID, invocation{entry: wasm.EntryEvent, input: d.input})
	if err != nil && !errors.Is(err, ErrPageNotFound) {
		m.logger.Warn("dbevent delivery failed", "page_id", d.pageID, "err", err)
	}
	if met := m.cfg.Metrics; met != nil {
		met.EventDeliveries.Inc()
	}
}

// runClose runs a page's close entry; the caller holds the page.
func (m *Manager) runClose(ctx context.Context, r *route, ref pageRef, s *store, reason string) {
	input, _ := json.Marshal(map[string]string{"reason": reason})
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.Timeout.D()+time.Second)
	defer cancel()
	if _, err := r.handler.Call(ctx, &wasm.Call{Entry: wasm.EntryClose, Input: input, Host: newCallHost(m, ref, s)}); err != nil {
		m.logger.Warn("page close entry failed", "page_id", ref.ID, "reason", reason, "err", err)
	}
}
