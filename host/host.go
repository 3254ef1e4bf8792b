package host

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/host/executor"
	"github.com/gnrhost/gnrhost/host/ipc"
	"github.com/gnrhost/gnrhost/host/legacy"
	"github.com/gnrhost/gnrhost/host/mailbox"
	"github.com/gnrhost/gnrhost/host/metrics"
	"github.com/gnrhost/gnrhost/host/pages"
	"github.com/gnrhost/gnrhost/host/pluginmgr"
	"github.com/gnrhost/gnrhost/host/pluginset"
	"github.com/gnrhost/gnrhost/host/session"
	"github.com/gnrhost/gnrhost/host/wasm"
	"github.com/gnrhost/gnrhost/host/ws"
)

// Options configure a Host.
type Options struct {
	Set     *pluginset.Set
	Catalog Catalog
	Logger  *slog.Logger
	// Executable is re-executed for plugins with `mode: process`; empty means this binary.
	Executable string

	// The parts below let a swapped-in set share what outlives one set (see Runtime).
	// Metrics and Signer, when nil, are made afresh.
	Metrics *metrics.Metrics
	Signer  *session.Signer
	// Registry and Legacy, when not nil, are the running set's plugins, reused because
	// the new set configures them identically. The new Host does not own them: closing
	// it leaves them running.
	Registry *pluginmgr.RegistrySlot
	Legacy   abi.LegacyApp
	// PagesGate, when not nil, holds page requests (HTTP, WebSocket, dbevents) until it
	// closes: the state of the pages is still moving in from the previous set.
	PagesGate <-chan struct{}
	// WebSocket and PushBuffers, when not nil, outlive this set (a Runtime's): its
	// sockets stay open across swaps and read the same numbered push buffers. The Host
	// does not close a WebSocket server it did not make.
	WebSocket   *ws.Server
	PushBuffers *pages.PushBuffers
	// Process is this host's number behind a balancer (phase 7): its page and connection
	// ids end in "|pNN", and a signed cookie whose connection it does not know is adopted
	// (the user was moved here by a change of the process count, or its process restarted).
	Process session.Process

	// ipc, when not nil, is the Runtime's nats link, which outlives sets. Without it a
	// set with the nats backend connects its own.
	ipc *ipcLink
}

// Host runs one plugin set.
type Host struct {
	set      *pluginset.Set
	catalog  Catalog
	logger   *slog.Logger
	metrics  *metrics.Metrics
	registry *pluginmgr.RegistrySlot
	exec     *executor.Pool
	signer   *session.Signer
	engine   *wasm.Engine
	pages    *pages.Manager
	ws       *ws.Server
	legacy   abi.LegacyApp
	proxy    http.Handler
	handler  http.Handler
	// legacyRoutes tells the connection-level front which requests the router would
	// give the legacy proxy (nil without a legacy slot).
	legacyRoutes *legacyRoutes

	draining atomic.Bool
	// eventsToken guards POST /_gnr/dbevents; empty turns the endpoint off.
	eventsToken string

	// ownRegistry / ownLegacy: this Host started them and stops them on close. A swap
	// that hands them to the next set clears the flag.
	ownRegistry atomic.Bool
	ownLegacy   atomic.Bool
	ownWS       bool
	pagesGate   <-chan struct{}
	pushBuffers *pages.PushBuffers
	process     session.Process

	// ipc is the nats link (nil under the local backend); ownIPC: this Host made it.
	ipc    *ipcLink
	ownIPC bool
	// shared is the registry the pages and endpoints use: registry itself, or under the
	// nats backend registry wrapped so dbevents and the global store are site-wide.
	shared abi.Registry
	// stopMailbox stops the pyro backend's mailbox (nil otherwise).
	stopMailbox func(context.Context)
}

// New starts the set's plugins and builds the HTTP handler. It fails, having stopped
// whatever it started, when a plugin cannot start or answer its first health check.
func New(ctx context.Context, opts Options) (*Host, error) {
	set := opts.Set
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	exe := opts.Executable
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("host: find own executable for out-of-process plugins: %w", err)
		}
	}
	factory, ok := opts.Catalog.Registries[set.Registry.Plugin]
	if !ok {
		return nil, fmt.Errorf("host: registry plugin %q is not in this build", set.Registry.Plugin)
	}
	signer := opts.Signer
	if signer == nil {
		var err error
		if signer, err = newSigner(set.Session, logger); err != nil {
			return nil, err
		}
	}
	m := opts.Metrics
	if m == nil {
		m = metrics.New()
	}
	h := &Host{set: set, catalog: opts.Catalog, logger: logger, metrics: m, signer: signer, pagesGate: opts.PagesGate,
		pushBuffers: opts.PushBuffers, process: opts.Process}
	if env := set.Events.TokenEnv; env != "" {
		h.eventsToken = os.Getenv(env)
		if len(h.eventsToken) < 16 {
			return nil, fmt.Errorf("host: events.token_env: variable %s must hold a token of at least 16 characters", env)
		}
	}
	if opts.Registry != nil {
		h.registry = opts.Registry
	} else {
		var err error
		h.registry, err = pluginmgr.StartRegistry(ctx, pluginmgr.RegistryConfig{
			Factory:    factory,
			Slot:       set.Registry,
			Health:     set.Health,
			Executable: exe,
			Logger:     logger,
			Metrics:    h.metrics,
		})
		if err != nil {
			return nil, fmt.Errorf("host: plugin set %s: %w", set.Name, err)
		}
		h.ownRegistry.Store(true)
	}
	h.ipc = opts.ipc
	if h.ipc == nil {
		link, err := startIPC(ctx, set, opts.Process, logger, h.metrics)
		if err != nil {
			_ = h.closePlugins(context.Background())
			return nil, fmt.Errorf("host: plugin set %s: %w", set.Name, err)
		}
		h.ipc, h.ownIPC = link, link != nil
	}
	h.shared = sharedRegistry(h.registry, h.ipc)
	h.metrics.WatchRegistry(func(ctx context.Context) (int, int, int, error) {
		c, err := h.registry.Counters(ctx)
		return c.Users, c.Connections, c.Pages, err
	})
	h.exec = executor.New(set.Executors.Workers, set.Executors.Queue, h.metrics)
	if err := h.startMailbox(ctx); err != nil {
		_ = h.closePlugins(context.Background())
		return nil, fmt.Errorf("host: plugin set %s: %w", set.Name, err)
	}
	if err := h.startLegacy(ctx, opts.Legacy); err != nil {
		_ = h.closePlugins(context.Background())
		return nil, fmt.Errorf("host: plugin set %s: %w", set.Name, err)
	}
	if err := h.startPages(ctx); err != nil {
		_ = h.closePlugins(context.Background())
		return nil, fmt.Errorf("host: plugin set %s: %w", set.Name, err)
	}
	if opts.WebSocket != nil {
		h.ws = opts.WebSocket
	} else {
		h.ws = ws.New(ws.Config{
			Settings:     set.WebSocket,
			Pages:        h.pages,
			ReadIdentity: h.signer.Read,
			Logger:       logger,
			Metrics:      h.metrics,
			WriteTimeout: set.WebSocket.WriteTimeout.D(),
		})
		h.ownWS = true
	}
	h.handler = h.routes()
	if h.ownIPC {
		// Last: the handlers use the pages and the WebSocket endpoint made above.
		err := h.ipc.subscribe(func(msg ipc.DbEventsMessage) {
			ctx, cancel := context.WithTimeout(context.Background(), shortTimeout)
			defer cancel()
			h.deliverRemoteDbEvents(ctx, msg)
		}, func(n ipc.Notice) { deliverNotice(h, n) })
		if err != nil {
			_ = h.Close(context.Background())
			return nil, fmt.Errorf("host: plugin set %s: %w", set.Name, err)
		}
	}
	return h, nil
}

// WebSocket is the push endpoint.
func (h *Host) WebSocket() *ws.Server { return h.ws }

func (h *Host) startPages(ctx context.Context) error {
	cacheDir := h.set.WASM.CacheDir
	switch cacheDir {
	case "":
		cacheDir = pages.DefaultCacheDir()
	case "off":
		cacheDir = ""
	}
	engine, err := wasm.NewEngine(cacheDir)
	if err != nil {
		return err
	}
	h.engine = engine
	var snapshots pages.Snapshots
	for _, pr := range h.set.Pages {
		if !pr.Persist {
			continue
		}
		// Persist pages need a store every process reads: only the nats backend has one.
		if h.ipc == nil {
			h.logger.Warn("persist: true needs ipc backend nats; the page is not persisted", "route", pr.Route)
			continue
		}
		snapshots = pageSnapshots{h.ipc.bus.Pages()}
	}
	h.pages, err = pages.New(ctx, pages.Config{
		Set:          h.set,
		Registry:     h.shared,
		Engine:       engine,
		Executors:    h.exec,
		Logger:       h.logger,
		Identify:     h.ensureConnection,
		ReadIdentity: h.signer.Read,
		WriteError:   h.writeError,
		Native:       h.catalog.Pages,
		Metrics:      h.metrics,
		PushBuffers:  h.pushBuffers,
		Process:      h.process,
		Snapshots:    snapshots,
	})
	return err
}

func (h *Host) startLegacy(ctx context.Context, reuse abi.LegacyApp) error {
	slot := h.set.Legacy
	if slot == nil {
		return nil
	}
	logger := h.logger.With("slot", "legacy", "plugin", slot.Plugin)
	app := reuse
	if app == nil {
		factory, ok := h.catalog.Legacy[slot.Plugin]
		if !ok {
			return fmt.Errorf("legacy plugin %q is not in this build", slot.Plugin)
		}
		var err error
		if app, err = factory.New(ctx, slot.Config, filepath.Dir(h.set.Path), logger); err != nil {
			return fmt.Errorf("legacy plugin %s: %w", slot.Plugin, err)
		}
		h.ownLegacy.Store(true)
	}
	h.legacy = app
	var err error
	h.proxy, err = legacy.New(app, legacy.Options{Plugin: slot.Plugin, Logger: logger})
	return err
}

// Pages is the page manager of the set.
func (h *Host) Pages() *pages.Manager { return h.pages }

func newSigner(cfg pluginset.Session, logger *slog.Logger) (*session.Signer, error) {
	secret := []byte(os.Getenv(cfg.SecretEnv))
	if cfg.SecretEnv == "" || len(secret) == 0 {
		secret = make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			return nil, fmt.Errorf("host: make a cookie secret: %w", err)
		}
		if cfg.SecretEnv != "" {
			logger.Warn("session secret variable is empty; using a random secret", "variable", cfg.SecretEnv)
		}
	}
	s, err := session.NewSigner(cfg.Cookie, secret)
	if err != nil {
		return nil, fmt.Errorf("host: session.secret_env %s: %w", cfg.SecretEnv, err)
	}
	return s, nil
}

// Handler is the public HTTP handler.
func (h *Host) Handler() http.Handler { return h.handler }

// Registry is the set's registry as pages see it: stable across plugin restarts; under
// the nats backend its dbevents and global store are shared with the other processes.
func (h *Host) Registry() abi.Registry { return h.shared }

// Executors is the pool for blocking work.
func (h *Host) Executors() *executor.Pool { return h.exec }

// Plugins returns the status of every plugin of the set.
func (h *Host) Plugins() []pluginmgr.Status {
	out := []pluginmgr.Status{h.registry.Status()}
	if h.legacy != nil {
		st := pluginmgr.Status{Slot: "legacy", Plugin: h.set.Legacy.Plugin, Mode: string(h.set.Legacy.Mode), State: pluginmgr.StateUp}
		ctx, cancel := context.WithTimeout(context.Background(), h.set.Health.Timeout.D())
		if err := h.legacy.Ping(ctx); err != nil {
			st.State, st.LastError = pluginmgr.StateDown, err.Error()
		}
		cancel()
		out = append(out, st)
	}
	return out
}

// Ready reports whether every plugin of the set is healthy and the host is not draining.
func (h *Host) Ready() bool {
	if h.draining.Load() {
		return false
	}
	for _, st := range h.Plugins() {
		if st.State != pluginmgr.StateUp {
			return false
		}
	}
	return true
}

// Close stops executors and plugins without serving (for a host that never served).
func (h *Host) Close(ctx context.Context) error {
	if h.ws != nil && h.ownWS {
		_ = h.ws.Close(ctx)
	}
	return h.closePlugins(ctx)
}

func (h *Host) closePlugins(ctx context.Context) error {
	var errs []error
	if h.ownIPC {
		h.ipc.unsubscribe() // the connection stays for the pages' last snapshots
	}
	if h.pages != nil {
		if err := h.pages.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("close pages: %w", err))
		}
	}
	if h.engine != nil {
		if err := h.engine.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if h.legacy != nil && h.ownLegacy.Load() {
		if err := h.legacy.Close(); err != nil {
			errs = append(errs, fmt.Errorf("stop legacy plugin: %w", err))
		}
	}
	if h.exec != nil {
		if err := h.exec.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if h.stopMailbox != nil {
		h.stopMailbox(ctx)
	}
	if h.ownIPC {
		if err := h.ipc.close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("close ipc: %w", err))
		}
	}
	if h.ownRegistry.Load() {
		if err := h.registry.Close(); err != nil {
			errs = append(errs, fmt.Errorf("stop registry plugin: %w", err))
		}
	}
	return errors.Join(errs...)
}

// shortTimeout bounds the registry calls made by host endpoints.
const shortTimeout = 5 * time.Second

// Set is the plugin set this Host runs.
func (h *Host) Set() *pluginset.Set { return h.set }

// startMailbox puts the pyro backend's mailbox between the pages and the registry for
// dbevents. A single host without a process number has nothing to forward.
func (h *Host) startMailbox(ctx context.Context) error {
	if h.set.IPC.Backend != IPCPyro {
		return nil
	}
	if h.process == 0 {
		h.logger.Info("ipc backend pyro in a single host: dbevents stay in this process")
		return nil
	}
	mb, err := mailbox.New(ctx, h.shared, mailbox.Options{Process: h.process, Poll: h.set.IPC.Poll.D(),
		Logger: h.logger.With("ipc", IPCPyro)})
	if err != nil {
		return err
	}
	h.shared, h.stopMailbox = mb, mb.Shutdown
	return nil
}
