package pages

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/abi/wasmabi"
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
		m.deliverNotice(n, nil)
	}
	return notices, nil
}

// deliverNotice queues a notice's event for each of its pages (those keep accepts, when
// keep is set). Pages whose route shares its event calls get one call per route.
func (m *Manager) deliverNotice(n abi.DbEventNotice, keep func(pageID string) bool) {
	input, _ := json.Marshal(eventInput{Kind: "dbevent", Table: n.Table, Events: n.Events, OriginPageID: n.OriginPageID})
	shared := m.sharedPages(n.PageIDs)
	var byRoute map[*route]*sharedEvent
	for i, id := range n.PageIDs {
		if !m.ownPage(id) && m.lookupResident(id) == nil {
			// Another process's page, unless it moved here (a persist page rebuilt).
			continue
		}
		if p := pageAt(shared, i); p != nil {
			se := byRoute[p.route]
			if se == nil {
				if byRoute == nil {
					byRoute = map[*route]*sharedEvent{}
				}
				se = &sharedEvent{route: p.route, input: input, table: n.Table}
				byRoute[p.route] = se
			}
			m.deliverEvent(delivery{pageID: id, input: input, shared: se, page: p})
			continue
		}
		if keep == nil || keep(id) {
			m.deliverEvent(delivery{pageID: id, input: input})
		}
	}
}

func pageAt(pages []*residentPage, i int) *residentPage {
	if i < len(pages) {
		return pages[i]
	}
	return nil
}

// sharedPages returns, for each of ids, the page when it is resident here and its route
// shares its event calls (else nil); nil when there is none.
func (m *Manager) sharedPages(ids []string) []*residentPage {
	var out []*residentPage
	m.mu.RLock()
	defer m.mu.RUnlock()
	for i, id := range ids {
		if p := m.resident[id]; p != nil && p.route.sharedEvents {
			if out == nil {
				out = make([]*residentPage, len(ids))
			}
			out[i] = p
		}
	}
	return out
}

// deliverEvent queues a dbevent for a page; the page's dispatcher shard runs it.
func (m *Manager) deliverEvent(d delivery) {
	if !m.events.send(d) {
		if met := m.cfg.Metrics; met != nil {
			met.EventsDropped.Inc()
		}
		m.logger.Warn("dbevent dropped: the page's delivery queue is full", "page_id", d.pageID)
	}
}

func (m *Manager) runEvent(d delivery) {
	if met := m.cfg.Metrics; met != nil {
		defer met.EventDeliveries.Inc()
	}
	if d.shared != nil && m.applyShared(d) {
		return
	}
	ctx := newLazyDeadline(time.Now().Add(eventTimeout))
	defer ctx.stop()
	_, err := m.callPage(ctx, d.pageID, invocation{entry: wasm.EntryEvent, input: d.input})
	if err != nil && !errors.Is(err, ErrPageNotFound) {
		m.logger.Warn("dbevent delivery failed", "page_id", d.pageID, "err", err)
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

// sharedEvent is one event call made for every page of a route that a dbevent reaches
// (feature SHARED_EVENTS): the first delivery to need it makes the call, the others wait
// for it and apply the same outcome to their page.
type sharedEvent struct {
	route *route
	input []byte
	table string
	once  sync.Once
	res   *wasm.Result
	err   error
}

func (se *sharedEvent) result(m *Manager) (*wasm.Result, error) {
	se.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
		defer cancel()
		se.res, se.err = se.route.handler.Call(ctx, &wasm.Call{Entry: wasm.EntryEvent, Input: se.input, Host: &sharedHost{m: m, route: se.route.cfg.Route}})
		switch {
		case se.err != nil:
			m.logger.Warn("shared dbevent call failed; no page of the route gets this event", "route", se.route.cfg.Route, "table", se.table, "err", se.err)
		case se.res.Status != wasmabi.StatusOK:
			m.logger.Warn("shared dbevent call returned an error; no page of the route gets this event", "route", se.route.cfg.Route, "table", se.table, "reply", truncate(string(se.res.Reply), 200))
		}
	})
	return se.res, se.err
}

// applyShared gives one page the outcome of its route's shared event call, as if the
// call had run for it: its store writes, then its pushes. It returns false, having done
// nothing, when the page was closed meanwhile (handed over to another set, say): the
// delivery then takes the ordinary path, as it would have without the shared call.
func (m *Manager) applyShared(d delivery) bool {
	p := d.page
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return false
	}
	res, err := d.shared.result(m)
	if err != nil || res.Status != wasmabi.StatusOK {
		return true // logged once by result: a failed call changes nothing on any page
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return false
	}
	if grown := p.store.bytesAfter(res.Changes); grown > wasmabi.MaxStoreBytes {
		p.mu.Unlock()
		m.logger.Warn("shared dbevent not applied: the page store would exceed its limit", "page_id", p.ref.ID, "bytes", grown)
		return true
	}
	p.store.apply(res.Changes)
	p.touch()
	p.mu.Unlock()
	if len(res.Pushes) > 0 {
		box := m.pageOutbox(p)
		for _, data := range res.Pushes {
			box.add(data)
		}
	}
	if len(res.Changes) > 0 || len(res.Pushes) > 0 {
		m.markDirty(p)
	}
	return true
}

// sharedHost is the wasm.Host of a shared event call: no page. The runtime refuses the
// page-specific functions in such a call (wasm-abi.md, SHARED_EVENTS), so only the
// global register and the log are reached.
type sharedHost struct {
	m     *Manager
	route string
}

func (h *sharedHost) PageInfo() []byte               { return nil }
func (h *sharedHost) StoreGet(string) ([]byte, bool) { return nil, false }
func (h *sharedHost) StoreKeys() []string            { return nil }
func (h *sharedHost) StoreBytes() int                { return 0 }
func (h *sharedHost) UserGet(context.Context, string) ([]byte, bool, error) {
	return nil, false, errNoPage
}
func (h *sharedHost) UserSet(context.Context, string, []byte) error { return errNoPage }

func (h *sharedHost) GlobalGet(ctx context.Context, key string) ([]byte, bool, error) {
	return h.m.cfg.Registry.GetData(ctx, globalRef, key)
}

func (h *sharedHost) GlobalSet(context.Context, string, []byte) error { return errNoPage }

func (h *sharedHost) Log(level int, msg string) {
	h.m.logger.Log(context.Background(), guestLevel(level), msg, "route", h.route, "source", "guest", "shared_event", true)
}

// errNoPage: a shared event call asked for a page's data (the runtime prevents it).
var errNoPage = fmt.Errorf("a shared event call has no page: %w", abi.ErrInvalid)

// lazyDeadline is a context with a deadline whose timer is made only when something
// waits on Done. An event delivery to a resident page rarely blocks on anything (the
// in-process registry only looks at Err, the wasm runtime has its own watchdog), and a
// timer per delivery was a measurable part of a fan-out's CPU and garbage.
type lazyDeadline struct {
	deadline time.Time
	mu       sync.Mutex
	ctx      context.Context // made by the first Done
	cancel   context.CancelFunc
	stopped  bool
}

func newLazyDeadline(d time.Time) *lazyDeadline { return &lazyDeadline{deadline: d} }

func (c *lazyDeadline) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *lazyDeadline) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx == nil {
		if c.stopped {
			return closedChan
		}
		c.ctx, c.cancel = context.WithDeadline(context.Background(), c.deadline)
	}
	return c.ctx.Done()
}

func (c *lazyDeadline) Err() error {
	c.mu.Lock()
	ctx, stopped := c.ctx, c.stopped
	c.mu.Unlock()
	switch {
	case ctx != nil:
		return ctx.Err()
	case stopped:
		return context.Canceled
	case !time.Now().Before(c.deadline):
		return context.DeadlineExceeded
	}
	return nil
}

func (c *lazyDeadline) Value(any) any { return nil }

// stop ends the context (the delivery is over) and releases its timer, if one was made.
func (c *lazyDeadline) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
	if c.cancel != nil {
		c.cancel()
	}
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()
