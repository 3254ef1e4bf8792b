package pages

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/abi/wasmabi"
	"github.com/gnrhost/gnrhost/host/session"
	"github.com/gnrhost/gnrhost/host/wasm"
)

var (
	// ErrForbidden: the page belongs to another connection. 403.
	ErrForbidden = errors.New("page belongs to another connection")
	// ErrPageNotFound: no such page here (never made, closed, expired, or of a route this
	// set does not serve). 404.
	ErrPageNotFound = errors.New("page not found")
)

func isNotFound(err error) bool { return errors.Is(err, abi.ErrNotFound) }

// invocation is one call into a page's handler.
type invocation struct {
	entry  wasm.Entry
	method string
	input  []byte
	// caller is checked against the page's connection; nil for the host's own calls
	// (dbevents, close on expiry).
	caller *session.Identity
}

// Datachange is a store change sent to the client with an RPC's result.
type Datachange struct {
	Path   string          `json:"path"`
	Value  json.RawMessage `json:"value,omitempty"`
	Delete bool            `json:"delete,omitempty"`
	Reason string          `json:"reason,omitempty"`
}

// DatachangeOf is a registry datachange as a client gets it.
func DatachangeOf(d abi.Datachange) Datachange {
	return Datachange{Path: d.Path, Value: d.Value, Delete: d.Delete, Reason: d.Reason}
}

// outcome is what a call did, for the HTTP answer.
type outcome struct {
	res         *wasm.Result
	datachanges []Datachange
	pushes      []Push
}

// callPage runs inv on page id, in the page's lifecycle.
func (m *Manager) callPage(ctx context.Context, id string, inv invocation) (*outcome, error) {
	if p := m.lookupResident(id); p != nil {
		return m.callResident(ctx, p, inv)
	}
	pageRefItem := abi.ItemRef{Register: abi.RegisterPage, ID: id}
	item, err := m.cfg.Registry.GetItem(ctx, pageRefItem, false)
	if isNotFound(err) {
		if inv.caller == nil {
			return nil, ErrPageNotFound
		}
		// Perhaps a persist page of another process (or of this one before a restart).
		p, err := m.restore(ctx, *inv.caller, id)
		if err != nil {
			return nil, err
		}
		return m.callResident(ctx, p, inv)
	}
	if err != nil {
		return nil, err
	}
	if inv.caller != nil && item.ConnectionID != inv.caller.ConnectionID {
		return nil, ErrForbidden
	}
	r := m.routes[item.PageName]
	if r == nil {
		return nil, ErrPageNotFound
	}
	if !r.handler.Wants(inv.entry) {
		return &outcome{res: &wasm.Result{}}, nil
	}
	ref := pageRef{ID: id, ConnectionID: item.ConnectionID, User: item.User, Route: item.PageName, Lifecycle: r.cfg.Lifecycle}
	if r.resident {
		// A page the registry knows but this host does not hold (made by an ephemeral
		// set before a swap, or evicted): it becomes resident on first use. Not in a
		// manager that is closing: the deliveries it still runs would make pages resident
		// only for its close to end them, and drop them from the registry (a page handed
		// over to the next set, or any page at shutdown).
		select {
		case <-m.stop:
			return nil, ErrPageNotFound
		default:
		}
		p, err := m.promote(ctx, r, ref)
		if err != nil {
			return nil, err
		}
		return m.callResident(ctx, p, inv)
	}
	return m.callEphemeral(ctx, r, ref, inv)
}

func (m *Manager) promote(ctx context.Context, r *route, ref pageRef) (*residentPage, error) {
	data, err := m.cfg.Registry.GetStore(ctx, abi.ItemRef{Register: abi.RegisterPage, ID: ref.ID})
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	if p := m.resident[ref.ID]; p != nil {
		m.mu.Unlock()
		return p, nil
	}
	m.mu.Unlock()
	p := &residentPage{ref: ref, route: r, store: newStore(data)}
	if m.persists(p) {
		// Handed over by the previous set of this process: its snapshot goes on from the
		// revision that set wrote, or the first save would take it for another
		// process's and let the page go.
		if _, rev, ok, err := m.cfg.Snapshots.LoadPage(ctx, ref.ID); err == nil && ok {
			p.snapRev = rev
		}
	}
	p.touch()
	m.addResident(ctx, p)
	m.markDirty(p) // what the previous set changed after its last save
	return p, nil
}

func (m *Manager) callResident(ctx context.Context, p *residentPage, inv invocation) (*outcome, error) {
	if inv.caller != nil && p.ref.ConnectionID != inv.caller.ConnectionID {
		return nil, ErrForbidden
	}
	if !p.route.handler.Wants(inv.entry) {
		return &outcome{res: &wasm.Result{}}, nil
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrPageNotFound
	}
	if p.host == nil {
		p.host = newCallHost(m, p.ref, p.store)
	}
	res, err := p.route.handler.Call(ctx, &wasm.Call{Entry: inv.entry, Method: inv.method, Input: inv.input, Host: p.host})
	if err == nil && res.Status == wasmabi.StatusOK {
		p.store.apply(res.Changes)
	}
	p.touch()
	p.mu.Unlock()
	if err != nil {
		return nil, err
	}
	out, err := m.finish(ctx, p.ref, p, inv, res)
	if err == nil && (len(res.Changes) > 0 || len(res.Pushes) > 0) {
		m.markDirty(p)
	}
	return out, err
}

func (m *Manager) stripe(id string) *sync.Mutex {
	return &m.stripes[pageHash(id)%uint32(len(m.stripes))]
}

func (m *Manager) callEphemeral(ctx context.Context, r *route, ref pageRef, inv invocation) (*outcome, error) {
	itemRef := abi.ItemRef{Register: abi.RegisterPage, ID: ref.ID}
	// In this process a stripe lock orders calls on a page; the registry lock orders them
	// against other processes (the legacy site, other hosts), as gnrdaemon clients do.
	mu := m.stripe(ref.ID)
	mu.Lock()
	defer mu.Unlock()
	unlock, err := m.lockItem(ctx, itemRef, r.cfg.Timeout.D())
	if err != nil {
		return nil, err
	}
	defer unlock()
	data, err := m.cfg.Registry.GetStore(ctx, itemRef)
	if isNotFound(err) {
		return nil, ErrPageNotFound
	}
	if err != nil {
		return nil, err
	}
	res, err := r.handler.Call(ctx, &wasm.Call{Entry: inv.entry, Method: inv.method, Input: inv.input, Host: newCallHost(m, ref, newStore(data))})
	if err != nil {
		return nil, err
	}
	if res.Status == wasmabi.StatusOK {
		for _, c := range res.Changes {
			if c.Delete {
				err = m.cfg.Registry.DeleteData(ctx, itemRef, c.Key)
			} else {
				err = m.cfg.Registry.SetData(ctx, itemRef, c.Key, c.Value)
			}
			if err != nil {
				return nil, fmt.Errorf("save page store: %w", err)
			}
		}
	}
	return m.finish(ctx, ref, nil, inv, res)
}

// lockItem takes the page's registry lock, retrying until ctx ends.
func (m *Manager) lockItem(ctx context.Context, ref abi.ItemRef, callTimeout time.Duration) (func(), error) {
	var tok [9]byte
	_, _ = rand.Read(tok[:])
	reason := "gnrhost:" + base64.RawURLEncoding.EncodeToString(tok[:])
	ttl := 2*callTimeout + time.Second
	wait := time.Millisecond
	for {
		ok, err := m.cfg.Registry.LockItem(ctx, ref, reason, ttl)
		if isNotFound(err) {
			return nil, ErrPageNotFound
		}
		if err != nil {
			return nil, err
		}
		if ok {
			return func() {
				if err := m.cfg.Registry.UnlockItem(context.WithoutCancel(ctx), ref, reason); err != nil && !isNotFound(err) {
					m.logger.Warn("unlock page", "page_id", ref.ID, "err", err)
				}
			}, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("page %s is locked by another request: %w", ref.ID, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
}

// finish applies what a successful call did outside the store: subscriptions, pushes,
// publishes; refreshes the page; and gathers the datachanges for an RPC's answer. p is
// the page when it is resident (nil for an ephemeral one).
func (m *Manager) finish(ctx context.Context, ref pageRef, p *residentPage, inv invocation, res *wasm.Result) (*outcome, error) {
	out := &outcome{res: res}
	itemRef := abi.ItemRef{Register: abi.RegisterPage, ID: ref.ID}
	if res.Status == wasmabi.StatusOK {
		for _, tc := range res.Tables {
			if err := m.cfg.Registry.SubscribeTable(ctx, ref.ID, tc.Table, tc.Subscribe); err != nil {
				return nil, fmt.Errorf("subscribe page to %s: %w", tc.Table, err)
			}
		}
		if len(res.Pushes) > 0 {
			var box *outbox
			if p != nil {
				box = m.pageOutbox(p)
			} else {
				box = m.outboxFor(ref.ID)
			}
			for _, data := range res.Pushes {
				seq := box.add(data)
				if inv.entry == wasm.EntryRPC { // only an RPC's answer lists its pushes
					out.pushes = append(out.pushes, Push{Seq: seq, Data: data})
				}
			}
		}
	}
	// Only the client's own requests keep a page alive; an event is not client activity
	// (and a touch per page per event would double a fan-out's registry traffic).
	if inv.entry == wasm.EntryRPC || inv.entry == wasm.EntryLoad {
		kind := abi.RefreshRPC
		if inv.entry == wasm.EntryLoad {
			kind = abi.RefreshUser
		}
		if err := m.cfg.Registry.Touch(ctx, itemRef, kind); err != nil && !isNotFound(err) {
			return nil, err
		}
	}
	if inv.entry == wasm.EntryRPC {
		pending, err := m.cfg.Registry.Datachanges(ctx, itemRef, true)
		if err != nil && !isNotFound(err) {
			return nil, err
		}
		for _, d := range pending {
			out.datachanges = append(out.datachanges, DatachangeOf(d))
		}
		if res.Status == wasmabi.StatusOK {
			for _, c := range res.Changes {
				out.datachanges = append(out.datachanges, Datachange{Path: c.Key, Value: c.Value, Delete: c.Delete})
			}
		}
	}
	if res.Status == wasmabi.StatusOK && len(res.Publishes) > 0 {
		m.publish(context.WithoutCancel(ctx), ref.ID, res.Publishes)
	}
	return out, nil
}
