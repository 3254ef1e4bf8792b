package pages

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/host/wasm"
)

// residentPage is a page that lives in this host between requests (phase 5).
type residentPage struct {
	ref   pageRef
	route *route

	// mu serializes calls: one call at a time per page, as one instance per call.
	mu    sync.Mutex
	store *store
	// host is the page's wasm.Host, made on its first call and kept: it is the same for
	// every call (the store is changed in place), guarded by mu.
	host     *callHost
	closed   bool
	lastUsed atomic.Int64 // unix nanos
	// box remembers the page's push buffer (pageOutbox).
	box atomic.Pointer[outbox]
	// snapRev is the revision of the page's snapshot this process last wrote or claimed
	// (persist pages; 0: none yet), guarded by mu.
	snapRev uint64
}

func (p *residentPage) touch() { p.lastUsed.Store(time.Now().UnixNano()) }

// addResident registers p, first closing the least recently used pages of its connection
// when the route's cap would be exceeded.
func (m *Manager) addResident(ctx context.Context, p *residentPage) {
	limit := p.route.cfg.MaxPerConnection
	m.mu.Lock()
	conn := m.byConn[p.ref.ConnectionID]
	if conn == nil {
		conn = map[string]*residentPage{}
		m.byConn[p.ref.ConnectionID] = conn
	}
	// The cap is the route's: count this connection's pages of the same route only (no
	// need while the connection has fewer pages than the cap in all).
	var same []*residentPage
	if len(conn) >= limit {
		for _, q := range conn {
			if q.route == p.route {
				same = append(same, q)
			}
		}
	}
	var evict []*residentPage
	if len(same) >= limit {
		sort.Slice(same, func(i, j int) bool { return same[i].lastUsed.Load() < same[j].lastUsed.Load() })
		evict = same[:len(same)-limit+1]
	}
	conn[p.ref.ID] = p
	m.resident[p.ref.ID] = p
	m.mu.Unlock()
	for _, q := range evict {
		m.logger.Info("resident page evicted: too many pages for its connection", "page_id", q.ref.ID, "connection_id", q.ref.ConnectionID, "limit", limit)
		m.closeResident(ctx, q, "idle")
	}
}

func (m *Manager) lookupResident(id string) *residentPage {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.resident[id]
}

func (m *Manager) forgetResident(p *residentPage) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.resident, p.ref.ID)
	if conn := m.byConn[p.ref.ConnectionID]; conn != nil {
		delete(conn, p.ref.ID)
		if len(conn) == 0 {
			delete(m.byConn, p.ref.ConnectionID)
		}
	}
}

// closeResident runs the page's close entry (when it wants one), forgets it and drops
// its registry item. Safe to call more than once.
func (m *Manager) closeResident(ctx context.Context, p *residentPage, reason string) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	if p.route.handler.Wants(wasm.EntryClose) {
		m.runClose(ctx, p.route, p.ref, p.store, reason)
	}
	rev := p.snapRev
	p.mu.Unlock()
	if reason != "shutdown" {
		// Closed for good (by its client, idle, its connection expired): nobody may
		// rebuild it. A process that shuts down leaves it for the next one.
		m.dropSnapshot(ctx, p, rev)
	}
	m.forgetResident(p)
	m.dropOutbox(p.ref.ID)
	if err := m.cfg.Registry.DropItem(ctx, abi.ItemRef{Register: abi.RegisterPage, ID: p.ref.ID}, false); err != nil && !isNotFound(err) {
		m.logger.Warn("drop closed page from registry", "page_id", p.ref.ID, "err", err)
	}
}

// ResidentCount is the number of resident pages (for status and tests).
func (m *Manager) ResidentCount() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.resident)
}

// sweep closes resident pages idle past their route's TTL and pages whose connection is
// gone from the registry.
func (m *Manager) sweep() {
	defer close(m.done)
	t := time.NewTicker(m.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
		}
		m.sweepOnce(context.Background(), time.Now())
	}
}

func (m *Manager) sweepOnce(ctx context.Context, now time.Time) {
	m.mu.Lock()
	byConn := make(map[string][]*residentPage, len(m.byConn))
	for conn, pages := range m.byConn {
		for _, p := range pages {
			byConn[conn] = append(byConn[conn], p)
		}
	}
	m.mu.Unlock()
	for conn, pages := range byConn {
		ok, err := m.cfg.Registry.Exists(ctx, abi.ItemRef{Register: abi.RegisterConnection, ID: conn})
		if err == nil && !ok {
			for _, p := range pages {
				m.closeResident(ctx, p, "connection_expired")
			}
			continue
		}
		for _, p := range pages {
			if now.Sub(time.Unix(0, p.lastUsed.Load())) > p.route.cfg.IdleTTL.D() {
				m.closeResident(ctx, p, "idle")
			}
		}
	}
}
