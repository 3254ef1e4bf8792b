package pages

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/host/session"
)

// Snapshots keeps the snapshots of pages whose route says `persist: true`, where every
// process of the site can read them (the nats backend's key-value bucket), so a process
// that gets a request for a page it does not know can rebuild it.
//
// Every snapshot has a revision, and writes are conditional on it: a process owns a
// page's snapshot while its writes succeed. A process that rebuilds a page claims it by
// rewriting it at the revision it read; the process that held the page before then fails
// its next save with ErrSnapshotMoved and lets its copy go. So two processes never keep
// overwriting each other's state of one page.
type Snapshots interface {
	// SavePage writes a snapshot if the stored one is still at revision (0: there must
	// be none) and returns the new revision; ErrSnapshotMoved otherwise.
	SavePage(ctx context.Context, pageID string, snapshot []byte, revision uint64) (uint64, error)
	// LoadPage returns a snapshot and its revision; ok is false when there is none.
	LoadPage(ctx context.Context, pageID string) (snapshot []byte, revision uint64, ok bool, err error)
	// DeletePage removes the snapshot if it is still at revision (a process that lost the
	// page does not delete the new owner's).
	DeletePage(ctx context.Context, pageID string, revision uint64) error
}

// ErrSnapshotMoved: the snapshot was rewritten by another process, which now owns the page.
var ErrSnapshotMoved = errors.New("pages: the page's snapshot belongs to another process now")

// MaxSnapshotBytes bounds one page's snapshot; a page whose snapshot would be larger is
// not persisted (logged), and a process that loses it sends its client a reload.
const MaxSnapshotBytes = 512 << 10

// snapshotDebounce is how long the snapshotter waits after a change before it saves, so a
// burst of calls costs one save per page.
const snapshotDebounce = 50 * time.Millisecond

// snapshot is what a persist page leaves for another process: enough to rebuild it as a
// resident page (owner, route, subscriptions, store) and let its client resume its pushes.
type snapshot struct {
	PageID       string                     `json:"page_id"`
	ConnectionID string                     `json:"connection_id"`
	User         string                     `json:"user"`
	Route        string                     `json:"route"`
	Tables       []string                   `json:"tables,omitempty"`
	Store        map[string]json.RawMessage `json:"store"`
	Epoch        string                     `json:"epoch"`
	LastSeq      uint64                     `json:"last_seq"`
}

// persists reports whether p's changes are snapshotted.
func (m *Manager) persists(p *residentPage) bool {
	return m.cfg.Snapshots != nil && p.route.cfg.Persist && p.route.resident
}

// markDirty schedules a snapshot of p.
func (m *Manager) markDirty(p *residentPage) {
	if !m.persists(p) {
		return
	}
	m.snapMu.Lock()
	m.snapDirty[p.ref.ID] = p
	m.snapMu.Unlock()
	select {
	case m.snapKick <- struct{}{}:
	default:
	}
}

// snapshotter saves dirty pages, debounced, until the manager stops; then it saves what
// is left, so a process that shuts down leaves its persist pages' last state behind.
func (m *Manager) snapshotter() {
	defer close(m.snapDone)
	t := time.NewTimer(time.Hour)
	t.Stop()
	for {
		select {
		case <-m.stop:
			m.FlushSnapshots(context.Background())
			return
		case <-m.snapKick:
		}
		t.Reset(snapshotDebounce)
		select {
		case <-m.stop:
			t.Stop()
			m.FlushSnapshots(context.Background())
			return
		case <-t.C:
		}
		m.FlushSnapshots(context.Background())
	}
}

// FlushSnapshots saves every persist page changed since its last snapshot now (the
// snapshotter does it after a short debounce; tests call it to know it is done).
func (m *Manager) FlushSnapshots(ctx context.Context) {
	m.snapMu.Lock()
	dirty := m.snapDirty
	m.snapDirty = map[string]*residentPage{}
	m.snapMu.Unlock()
	for _, p := range dirty {
		err := m.saveSnapshot(ctx, p)
		result := "ok"
		switch {
		case errors.Is(err, ErrSnapshotMoved):
			result = "moved"
			m.leave(ctx, p)
		case err != nil:
			result = "error"
			m.logger.Warn("page snapshot not saved", "page_id", p.ref.ID, "err", err)
		}
		if mt := m.cfg.Metrics; mt != nil {
			mt.PageSnapshots.WithLabelValues(result).Inc()
		}
	}
}

// leave lets go of a page another process has taken over: no close entry (the page lives
// on there), no snapshot delete; this process's sockets of it are told to reload, which
// sends their clients to the new owner.
func (m *Manager) leave(ctx context.Context, p *residentPage) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.mu.Unlock()
	m.forgetResident(p)
	m.dropOutbox(p.ref.ID)
	if err := m.cfg.Registry.DropItem(ctx, abi.ItemRef{Register: abi.RegisterPage, ID: p.ref.ID}, false); err != nil && !isNotFound(err) {
		m.logger.Warn("drop moved page from registry", "page_id", p.ref.ID, "err", err)
	}
	m.logger.Info("page moved to another process", "page_id", p.ref.ID)
}

// saveSnapshot saves p's snapshot holding the page, so a close (which deletes the
// snapshot after marking the page closed under the same lock) cannot be overtaken by a
// save that would bring the snapshot back.
func (m *Manager) saveSnapshot(ctx context.Context, p *residentPage) error {
	item, err := m.cfg.Registry.GetItem(ctx, abi.ItemRef{Register: abi.RegisterPage, ID: p.ref.ID}, false)
	if err != nil && !isNotFound(err) {
		return err
	}
	epoch, last := m.pageOutbox(p).state()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	data, err := json.Marshal(snapshot{PageID: p.ref.ID, ConnectionID: p.ref.ConnectionID, User: p.ref.User, Route: p.ref.Route,
		Tables: item.SubscribedTables, Store: p.store.snapshot(), Epoch: epoch, LastSeq: last})
	if err != nil {
		return fmt.Errorf("encode snapshot: %w", err)
	}
	if len(data) > MaxSnapshotBytes {
		return fmt.Errorf("snapshot of %d bytes is over the %d-byte limit; the page is not persisted", len(data), MaxSnapshotBytes)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rev, err := m.cfg.Snapshots.SavePage(ctx, p.ref.ID, data, p.snapRev)
	if err != nil {
		return err
	}
	p.snapRev = rev
	return nil
}

// dropSnapshot forgets p's snapshot (the page was closed for good); rev is the revision
// this process last wrote, read under the page's lock when it was closed.
func (m *Manager) dropSnapshot(ctx context.Context, p *residentPage, rev uint64) {
	if !m.persists(p) || rev == 0 {
		return
	}
	m.snapMu.Lock()
	delete(m.snapDirty, p.ref.ID)
	m.snapMu.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := m.cfg.Snapshots.DeletePage(ctx, p.ref.ID, rev); err != nil && !errors.Is(err, ErrSnapshotMoved) {
		m.logger.Warn("page snapshot not deleted", "page_id", p.ref.ID, "err", err)
	}
}

// restore rebuilds page id, which this process does not know, from its snapshot: only for
// the connection that owns it (the signed cookie's connection and user), only on a
// resident persist route of this set. The connection is adopted into this process's
// registry when it is not there (the user was moved here). ErrPageNotFound when there is
// no usable snapshot: the client reloads, as for any unknown page.
func (m *Manager) restore(ctx context.Context, caller session.Identity, id string) (*residentPage, error) {
	if m.cfg.Snapshots == nil {
		return nil, ErrPageNotFound
	}
	select {
	case <-m.stop:
		return nil, ErrPageNotFound
	default:
	}
	// One rebuild at a time per page: its WebSocket and an RPC may ask at once.
	mu := m.stripe(id)
	mu.Lock()
	defer mu.Unlock()
	if p := m.lookupResident(id); p != nil {
		if p.ref.ConnectionID != caller.ConnectionID {
			return nil, ErrForbidden
		}
		return p, nil
	}
	raw, rev, ok, err := m.cfg.Snapshots.LoadPage(ctx, id)
	if err != nil {
		m.logger.Warn("page snapshot unreadable; the client reloads", "page_id", id, "err", err)
		return nil, ErrPageNotFound
	}
	if !ok {
		return nil, ErrPageNotFound
	}
	var snap snapshot
	if err := json.Unmarshal(raw, &snap); err != nil || snap.PageID != id {
		m.logger.Warn("page snapshot malformed; the client reloads", "page_id", id, "err", err)
		return nil, ErrPageNotFound
	}
	if snap.ConnectionID != caller.ConnectionID || snap.User != caller.User {
		return nil, ErrForbidden
	}
	r := m.routes[snap.Route]
	if r == nil || !r.resident || !r.cfg.Persist {
		return nil, ErrPageNotFound
	}
	// Claim the page: from now on the process that held it fails its next save and lets
	// it go. Losing the claim (that process saved meanwhile) means reload.
	claimed, err := m.cfg.Snapshots.SavePage(ctx, id, raw, rev)
	if err != nil {
		m.logger.Warn("persisted page not claimed; the client reloads", "page_id", id, "err", err)
		return nil, ErrPageNotFound
	}
	connRef := abi.ItemRef{Register: abi.RegisterConnection, ID: caller.ConnectionID}
	if ok, err := m.cfg.Registry.Exists(ctx, connRef); err != nil {
		return nil, err
	} else if !ok {
		name := caller.User
		if caller.Guest {
			name = "guest"
		}
		err := m.cfg.Registry.AddItem(ctx, abi.Item{Register: abi.RegisterConnection, ID: caller.ConnectionID,
			User: caller.User, ConnectionName: name, Guest: caller.Guest})
		if err != nil {
			return nil, fmt.Errorf("adopt the connection of a persisted page: %w", err)
		}
	}
	err = m.cfg.Registry.AddItem(ctx, abi.Item{Register: abi.RegisterPage, ID: id, ConnectionID: caller.ConnectionID,
		User: caller.User, PageName: snap.Route, RelativeURL: snap.Route})
	if err != nil {
		return nil, fmt.Errorf("register a persisted page: %w", err)
	}
	for _, table := range snap.Tables {
		if err := m.cfg.Registry.SubscribeTable(ctx, id, table, true); err != nil {
			return nil, fmt.Errorf("resubscribe a persisted page to %s: %w", table, err)
		}
	}
	m.cfg.PushBuffers.restore(id, snap.Epoch, snap.LastSeq)
	ref := pageRef{ID: id, ConnectionID: caller.ConnectionID, User: caller.User, Route: snap.Route, Lifecycle: r.cfg.Lifecycle}
	p := &residentPage{ref: ref, route: r, store: newStore(snap.Store), snapRev: claimed}
	p.touch()
	m.addResident(ctx, p)
	if met := m.cfg.Metrics; met != nil {
		met.PagesRestored.Inc()
	}
	m.logger.Info("page rebuilt from its snapshot", "page_id", id, "route", snap.Route, "last_seq", snap.LastSeq)
	return p, nil
}
