package pages

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/host/executor"
	"github.com/gnrhost/gnrhost/host/metrics"
	"github.com/gnrhost/gnrhost/host/pluginset"
	"github.com/gnrhost/gnrhost/host/session"
	"github.com/gnrhost/gnrhost/host/wasm"
)

// DefaultOutboxSize is how many recent pushes a page keeps for clients that reconnect.
const DefaultOutboxSize = 256

// maxOutboxes bounds the pages this host keeps push buffers for.
const maxOutboxes = 100_000

// Config wires a Manager into its host.
type Config struct {
	Set       *pluginset.Set
	Registry  abi.Registry
	Engine    *wasm.Engine
	Executors *executor.Pool
	Logger    *slog.Logger
	// Identify returns the caller's identity, registering a guest connection and setting
	// its cookie when the caller has none (page loads).
	Identify func(ctx context.Context, w http.ResponseWriter, r *http.Request) (session.Identity, error)
	// ReadIdentity returns the identity in the request's cookie, or an error (RPCs).
	ReadIdentity func(r *http.Request) (session.Identity, error)
	// WriteError answers a request that failed outside a handler (registry errors).
	WriteError func(w http.ResponseWriter, r *http.Request, err error)
	// SweepInterval is how often idle resident pages are looked for (default 5 s).
	SweepInterval time.Duration
	// Native are the native page handlers by plugin name.
	Native map[string]HandlerFactory
	// Metrics may be nil.
	Metrics *metrics.Metrics
	// PushBuffers, when not nil, are shared with the set this one replaces (a swap);
	// nil makes new ones.
	PushBuffers *PushBuffers
	// Process is this host's number behind a balancer: page ids carry it, and dbevents
	// are delivered only to this process's pages (others deliver their own).
	Process session.Process
	// EventWorkers run dbevent deliveries (default: the set's executor workers).
	EventWorkers int
	// Snapshots, when not nil, keeps the snapshots of `persist: true` pages (persist.go);
	// nil: such pages are not persisted and an unknown page id means reload.
	Snapshots Snapshots
}

type route struct {
	cfg      pluginset.PageRoute
	handler  Handler
	resident bool
	// sharedEvents: a resident route whose handler's event entry does the same for every
	// page (SHARED_EVENTS): one call per dbevent serves all its pages here (events.go).
	sharedEvents bool
}

// sharedEventer is a Handler whose event entry may serve many pages at once.
type sharedEventer interface{ SharedEvents() bool }

// Manager owns the page routes of one plugin set.
type Manager struct {
	cfg    Config
	logger *slog.Logger
	routes map[string]*route

	// mu guards the maps below; a fan-out only reads them (RLock), page loads and closes
	// write.
	mu       sync.RWMutex
	resident map[string]*residentPage
	byConn   map[string]map[string]*residentPage

	stripes [256]sync.Mutex
	events  *dispatcher

	stop      chan struct{}
	done      chan struct{}
	watchDone chan struct{}
	// reasonPrefix marks dbevent reasons this host sent, so its registry watcher skips
	// its own notices.
	reasonPrefix string

	// snapDirty are the persist pages changed since their last snapshot (under snapMu);
	// snapKick wakes the snapshotter, which closes snapDone when it has stopped.
	snapMu    sync.Mutex
	snapDirty map[string]*residentPage
	snapKick  chan struct{}
	snapDone  chan struct{}
}

// New loads every route's handler; a module that is refused fails the whole set, naming
// the route and what is wrong.
func New(ctx context.Context, cfg Config) (*Manager, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.SweepInterval <= 0 {
		// Sweep often enough to honour the shortest idle TTL within about half of it.
		cfg.SweepInterval = 5 * time.Second
		for _, pr := range cfg.Set.Pages {
			if pr.Lifecycle == "resident" {
				cfg.SweepInterval = min(cfg.SweepInterval, max(pr.IdleTTL.D()/2, 50*time.Millisecond))
			}
		}
	}
	m := &Manager{
		cfg:       cfg,
		logger:    cfg.Logger,
		routes:    map[string]*route{},
		resident:  map[string]*residentPage{},
		byConn:    map[string]map[string]*residentPage{},
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
		watchDone: make(chan struct{}),
		snapDirty: map[string]*residentPage{},
		snapKick:  make(chan struct{}, 1),
		snapDone:  make(chan struct{}),
	}
	if cfg.PushBuffers == nil {
		m.cfg.PushBuffers = NewPushBuffers()
	}
	m.reasonPrefix = m.cfg.PushBuffers.tag
	workers := cfg.EventWorkers
	if workers <= 0 {
		workers = cfg.Set.Executors.Workers
	}
	m.events = newDispatcher(workers, m.runEvent)
	for _, pr := range cfg.Set.Pages {
		h, err := m.loadHandler(ctx, pr)
		if err != nil {
			m.events.close()
			m.closeHandlers(context.Background())
			return nil, fmt.Errorf("page route %s: %w", pr.Route, err)
		}
		r := &route{cfg: pr, handler: h, resident: pr.Lifecycle == "resident"}
		if se, ok := h.(sharedEventer); ok && r.resident && h.Wants(wasm.EntryEvent) {
			r.sharedEvents = se.SharedEvents()
		}
		m.routes[pr.Route] = r
	}
	go m.sweep()
	go m.watchRegistry()
	go m.snapshotter()
	return m, nil
}

func (m *Manager) loadHandler(ctx context.Context, pr pluginset.PageRoute) (Handler, error) {
	if pr.Module == "" {
		factory, ok := m.cfg.Native[pr.Plugin]
		if strings.Contains(pr.Plugin, "/") {
			// A path, not a catalog name: a page plugin executable (pluginset checks it).
			factory, ok = PluginHandlerFactory(m.setRelative(pr.Plugin)), true
		}
		if !ok {
			return nil, fmt.Errorf("page plugin %q is not in this build", pr.Plugin)
		}
		return factory(ctx, pr, m.logger.With("route", pr.Route, "plugin", pr.Plugin))
	}
	return m.cfg.Engine.Load(ctx, wasm.Config{
		Path:        m.setRelative(pr.Module),
		Name:        pr.Module,
		MemoryLimit: pr.MemoryLimitMB << 20,
		Timeout:     pr.Timeout.D(),
		Instances:   pr.Instances,
		Logger:      m.logger.With("route", pr.Route),
	})
}

// setRelative resolves a path of the set file (a module, a plugin executable) against
// the set file's directory.
func (m *Manager) setRelative(path string) string {
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(m.cfg.Set.Path), path)
	}
	return path
}

// Routes lists the page routes.
func (m *Manager) Routes() []string {
	out := make([]string, 0, len(m.routes))
	for r := range m.routes {
		out = append(out, r)
	}
	return out
}

// Close closes every resident page (reason shutdown), stops the sweeper and closes the
// handlers.
func (m *Manager) Close(ctx context.Context) error {
	select {
	case <-m.stop:
		return nil
	default:
	}
	close(m.stop)
	<-m.done
	<-m.watchDone
	m.events.close()
	// After the deliveries: the snapshotter's last flush saves what they changed, and the
	// pages closed below for shutdown keep their snapshots for another process.
	<-m.snapDone
	m.mu.Lock()
	pages := make([]*residentPage, 0, len(m.resident))
	for _, p := range m.resident {
		pages = append(pages, p)
	}
	m.mu.Unlock()
	for _, p := range pages {
		m.closeResident(ctx, p, "shutdown")
	}
	return m.closeHandlers(ctx)
}

func (m *Manager) closeHandlers(ctx context.Context) error {
	var errs []error
	for _, r := range m.routes {
		if err := r.handler.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// DefaultCacheDir is where compiled modules are kept between runs.
func DefaultCacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "gnrhost", "wasm")
}

// outboxFor returns the page's push buffer, creating it.
func (m *Manager) outboxFor(pageID string) *outbox { return m.cfg.PushBuffers.get(pageID) }

// Pushes returns a page's pushes after seq, whether none were lost, and a channel closed
// at the next push (for waiting without polling).
func (m *Manager) Pushes(pageID string, after uint64) ([]Push, bool, <-chan struct{}) {
	return m.outboxFor(pageID).since(after)
}

// pageOutbox is outboxFor for a resident page, remembered on the page so that a
// fan-out does not look every page up under the manager's lock. A remembered buffer
// that has left the manager (dropped or evicted) is looked up again.
func (m *Manager) pageOutbox(p *residentPage) *outbox {
	if b := p.box.Load(); b != nil && !b.gone.Load() {
		return b
	}
	b := m.outboxFor(p.ref.ID)
	p.box.Store(b)
	return b
}

func (m *Manager) dropOutbox(pageID string) { m.cfg.PushBuffers.drop(pageID) }

func (m *Manager) newPageID() string { return m.cfg.Process.NewID() }

// ownPage reports whether this process delivers to page id: any page in a single host,
// else the pages whose id carries its number (or no number: the legacy path's).
func (m *Manager) ownPage(id string) bool {
	if m.cfg.Process == 0 {
		return true
	}
	p, ok := session.ProcessOf(id)
	return !ok || p == m.cfg.Process
}
