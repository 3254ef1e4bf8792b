package host

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gnrhost/gnrhost/host/admin"
	"github.com/gnrhost/gnrhost/host/ipc"
	"github.com/gnrhost/gnrhost/host/legacy/front"
	"github.com/gnrhost/gnrhost/host/metrics"
	"github.com/gnrhost/gnrhost/host/pages"
	"github.com/gnrhost/gnrhost/host/pluginset"
	"github.com/gnrhost/gnrhost/host/session"
	"github.com/gnrhost/gnrhost/host/ws"
)

// Runtime serves one plugin set at a time on a listener that outlives them, and swaps
// sets live: the public port, the metrics and the cookie signer stay; each set's plugins,
// pages and handlers form a generation that is started beside the running one, switched
// in atomically, and released once its in-flight requests are done (the NGINX Unit way:
// keep the listener, retire the old configuration when its last request ends).
type Runtime struct {
	catalog    Catalog
	logger     *slog.Logger
	executable string
	metrics    *metrics.Metrics
	signer     *session.Signer
	process    session.Process
	// processHeader is the X-Gnr-Process value ("02"), empty without a process number.
	processHeader string
	grace         time.Duration
	// keepaliveEvery: see RuntimeOptions.Keepalive.
	keepaliveEvery time.Duration
	// ws and pushes outlive every set: sockets stay open across swaps.
	ws     *ws.Server
	pushes *pages.PushBuffers
	// ipc is the nats link of the first set (nil under the local backend): like the
	// WebSocket endpoint it outlives swaps, and changing it needs a restart.
	ipc *ipcLink

	cur atomic.Pointer[generation]

	// swapMu serializes swaps (and the shutdown).
	swapMu sync.Mutex
	// infoMu guards what status reads, so status answers during a swap.
	infoMu   sync.Mutex
	previous *pluginset.Set
	// hold, when not nil, makes new requests wait: a swap that changes the registry
	// copies the registers between the old set's last request and the new set's first.
	holdMu  sync.Mutex
	hold    chan struct{}
	history []admin.SwapRecord // guarded by infoMu
	// watchCancel stops the current set's grace-period health watch (under swapMu).
	watchCancel context.CancelFunc

	serveCtx context.Context // the Serve context: background work ends with it
}

// RuntimeOptions configure a Runtime.
type RuntimeOptions struct {
	Set        *pluginset.Set
	Catalog    Catalog
	Logger     *slog.Logger
	Executable string
	// Grace, when not zero, overrides the sets' admin.rollback_grace: how long after a
	// swap the new set must stay healthy before it is kept.
	Grace time.Duration
	// Keepalive is how often the registry items behind open WebSockets are touched
	// (zero: every 10 s).
	Keepalive time.Duration
	// Process is this host's number behind a balancer (see Options.Process).
	Process session.Process
}

// maxHistory bounds the swap history kept for status.
const maxHistory = 100

// generation is one plugin set's Host, with the count of requests it is answering.
type generation struct {
	host  *Host
	since time.Time

	mu       sync.RWMutex
	retiring bool
	inflight sync.WaitGroup
}

// enter counts a request in; false when the generation no longer takes requests.
func (g *generation) enter() bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.retiring {
		return false
	}
	g.inflight.Add(1)
	return true
}

// retire stops new requests from entering and waits for those inside, until ctx ends.
func (g *generation) retire(ctx context.Context) error {
	g.mu.Lock()
	g.retiring = true
	g.mu.Unlock()
	done := make(chan struct{})
	go func() { g.inflight.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("in-flight requests still running: %w", ctx.Err())
	}
}

// unretire lets requests in again (a swap that failed after draining the old set).
func (g *generation) unretire() {
	g.mu.Lock()
	g.retiring = false
	g.mu.Unlock()
}

// NewRuntime starts the first set.
func NewRuntime(ctx context.Context, opts RuntimeOptions) (*Runtime, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	signer, err := newSigner(opts.Set.Session, logger)
	if err != nil {
		return nil, err
	}
	rt := &Runtime{catalog: opts.Catalog, logger: logger, executable: opts.Executable,
		metrics: metrics.New(), signer: signer, grace: opts.Grace, serveCtx: context.Background(),
		pushes: pages.NewPushBuffers(), keepaliveEvery: cmp.Or(opts.Keepalive, defaultKeepalive), process: opts.Process}
	if rt.process != 0 {
		rt.processHeader = fmt.Sprintf("%02d", int(rt.process))
	}
	// The first set's websocket settings hold for the runtime's life (a swap keeps the
	// endpoint and its sockets; changing them needs a restart, like the listen address).
	rt.ws = ws.New(ws.Config{
		Settings:     opts.Set.WebSocket,
		Pages:        runtimePages{rt},
		ReadIdentity: signer.Read,
		Logger:       logger,
		Metrics:      rt.metrics,
		WriteTimeout: opts.Set.WebSocket.WriteTimeout.D(),
	})
	if rt.ipc, err = startIPC(ctx, opts.Set, opts.Process, logger, rt.metrics); err != nil {
		return nil, err
	}
	h, err := New(ctx, rt.hostOptions(opts.Set))
	if err != nil {
		_ = rt.ipc.close(context.Background())
		return nil, err
	}
	rt.cur.Store(&generation{host: h, since: time.Now()})
	if rt.ipc != nil {
		if err := rt.ipc.subscribe(rt.deliverRemoteDbEvents, func(n ipc.Notice) { rt.ws.Notify(n.User, n.Broadcast, n.Payload) }); err != nil {
			_ = rt.ipc.close(context.Background())
			_ = h.Close(context.Background())
			return nil, err
		}
	}
	return rt, nil
}

// deliverRemoteDbEvents hands another process's dbevents to the running set, counted in
// its in-flight requests so a swap moves them with the pages.
func (rt *Runtime) deliverRemoteDbEvents(msg ipc.DbEventsMessage) {
	ctx, cancel := context.WithTimeout(context.Background(), shortTimeout)
	defer cancel()
	g, err := rt.enterPages(ctx)
	if err != nil {
		rt.logger.Warn("remote dbevents not delivered", "table", msg.Table, "origin", msg.Origin, "err", err)
		return
	}
	defer g.inflight.Done()
	g.host.deliverRemoteDbEvents(ctx, msg)
}

func (rt *Runtime) hostOptions(set *pluginset.Set) Options {
	return Options{Set: set, Catalog: rt.catalog, Logger: rt.logger, Executable: rt.executable,
		Metrics: rt.metrics, Signer: rt.signer, WebSocket: rt.ws, PushBuffers: rt.pushes, Process: rt.process, ipc: rt.ipc}
}

// Current is the Host of the running set.
func (rt *Runtime) Current() *Host { return rt.cur.Load().host }

// ServeHTTP hands the request to the running set, counting it in that set's in-flight
// requests so a swap can wait for them.
func (rt *Runtime) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rt.processHeader != "" {
		// Behind a balancer: says who answered, for people and tests.
		w.Header().Set("X-Gnr-Process", rt.processHeader)
	}
	if err := rt.waitHold(r.Context()); err != nil {
		return
	}
	for {
		g := rt.cur.Load()
		if g.enter() {
			defer g.inflight.Done()
			g.host.handler.ServeHTTP(w, r)
			return
		}
		// A swap retired g after we loaded it; by then the new set is current.
		if rt.cur.Load() == g {
			// A failed swap is putting g back: wait for it.
			time.Sleep(time.Millisecond)
		}
	}
}

// maxHold bounds how long a request waits for a swap that holds requests.
const maxHold = 30 * time.Second

func (rt *Runtime) waitHold(ctx context.Context) error {
	rt.holdMu.Lock()
	hold := rt.hold
	rt.holdMu.Unlock()
	if hold == nil {
		return nil
	}
	t := time.NewTimer(maxHold)
	defer t.Stop()
	select {
	case <-hold:
		return nil
	case <-t.C:
		return nil // let it through to whichever set is current
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (rt *Runtime) startHold() {
	rt.holdMu.Lock()
	rt.hold = make(chan struct{})
	rt.holdMu.Unlock()
}

func (rt *Runtime) endHold() {
	rt.holdMu.Lock()
	if rt.hold != nil {
		close(rt.hold)
		rt.hold = nil
	}
	rt.holdMu.Unlock()
}

// Serve answers requests on ln until ctx ends, then shuts down gracefully: /readyz turns
// 503, WebSockets are told to come back (1001), the listener closes, in-flight requests
// drain for up to the set's shutdown_timeout, plugins stop. It returns nil after a clean
// drain.
func (rt *Runtime) Serve(ctx context.Context, ln net.Listener) error {
	rt.swapMu.Lock()
	rt.serveCtx = ctx
	rt.swapMu.Unlock()
	set := rt.Current().set
	srv := set.Limits.Server(rt, rt.logger, ctx)
	serveErr := make(chan error, 2)
	// The legacy routes' requests are served by the front without net/http; it hands
	// every other connection to srv (see host/legacy/front and FrontEnv).
	var fr *front.Server
	servers := 1
	if frontEnabled() {
		servers = 2
		fr = rt.newFront(set.Limits)
		srvLn := fr.Listener(ln.Addr())
		go func() { serveErr <- srv.Serve(srvLn) }()
		go func() { serveErr <- fr.Serve(ln) }()
	} else {
		go func() { serveErr <- srv.Serve(ln) }()
	}
	kaCtx, stopKeepalive := context.WithCancel(ctx)
	kaDone := make(chan struct{})
	go func() { defer close(kaDone); rt.keepalive(kaCtx) }()
	defer func() { stopKeepalive(); <-kaDone }()
	rt.logger.Info("listening", "addr", ln.Addr().String(), "set", set.Name, "file", set.Path)

	select {
	case err := <-serveErr:
		if fr != nil {
			fr.Close()
			_ = srv.Close()
		}
		rt.swapMu.Lock()
		_ = rt.Current().closePlugins(context.Background())
		rt.swapMu.Unlock()
		return fmt.Errorf("host: serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	// No swap may start or finish while the host stops.
	rt.swapMu.Lock()
	defer rt.swapMu.Unlock()
	if rt.watchCancel != nil {
		rt.watchCancel()
	}
	h := rt.Current()
	h.draining.Store(true)
	timeout := h.set.ShutdownTimeout.D()
	rt.logger.Info("shutting down", "drain_timeout", timeout)
	drainCtx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var errs []error
	// WebSocket connections are hijacked, so Shutdown would not wait for them: tell their
	// clients to come back (1001) first.
	if err := h.ws.Close(drainCtx); err != nil {
		errs = append(errs, fmt.Errorf("close websockets: %w", err))
	}
	// The front's connections drain beside net/http's: idle ones close now, busy ones
	// after their answer.
	frontErr := make(chan error, 1)
	if fr != nil {
		go func() { frontErr <- fr.Shutdown(drainCtx) }()
	} else {
		frontErr <- nil
	}
	if err := srv.Shutdown(drainCtx); err != nil {
		errs = append(errs, fmt.Errorf("drain in-flight requests: %w", err))
		_ = srv.Close()
	}
	if err := <-frontErr; err != nil {
		errs = append(errs, fmt.Errorf("drain in-flight legacy requests: %w", err))
	}
	for range servers {
		if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, front.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	// Nothing more from the other processes into the plugins that are about to stop;
	// the connection itself stays until the pages have saved their last snapshots.
	rt.ipc.unsubscribe()
	if err := h.closePlugins(drainCtx); err != nil {
		errs = append(errs, err)
	}
	if err := rt.ipc.close(drainCtx); err != nil {
		errs = append(errs, fmt.Errorf("close ipc: %w", err))
	}
	if len(errs) > 0 {
		return fmt.Errorf("host: shutdown: %w", errors.Join(errs...))
	}
	rt.logger.Info("stopped")
	return nil
}

// Close stops the running set without serving (a runtime that never served).
func (rt *Runtime) Close(ctx context.Context) error {
	rt.swapMu.Lock()
	defer rt.swapMu.Unlock()
	if rt.watchCancel != nil {
		rt.watchCancel()
	}
	_ = rt.ws.Close(ctx)
	rt.ipc.unsubscribe()
	closeErr := rt.Current().Close(ctx)
	ipcErr := rt.ipc.close(ctx)
	rt.ipc = nil
	if closeErr != nil {
		return closeErr
	}
	if ipcErr != nil {
		return fmt.Errorf("host: close ipc: %w", ipcErr)
	}
	return nil
}
