package balancer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gnrhost/gnrhost/host/pluginset"
	"github.com/gnrhost/gnrhost/host/session"
)

// MaxProcesses is the most host processes a balancer runs: ids carry two digits.
const MaxProcesses = session.MaxProcess

// Options configure a local balancer.
type Options struct {
	// Set is the plugin set the processes run (its file is Set.Path); the balancer reads
	// its cookie name, limits and shutdown timeout.
	Set *pluginset.Set
	// Listener is the public port, opened by the caller.
	Listener net.Listener
	// Processes is how many host processes to start (1..MaxProcesses).
	Processes int
	// Executable is the gnrhost binary the processes run.
	Executable string
	// ServeArgs are the `serve` arguments every process gets, e.g. {"serve",
	// "--log-format", "json"}; the balancer adds --plugins FILE (Set.Path, or the file of
	// the last swap through the balancer), --process NN and --listen-fd 3. Their logs
	// should be JSON: the balancer re-logs each line tagged with the process.
	ServeArgs []string
	// Env is added to every process's environment (the balancer's own is inherited).
	Env []string
	// BeforeChildren, when set, runs once before any process starts; the environment it
	// returns is added to every process, and stop runs after the last process stopped.
	// It is where a shared service the processes need (an embedded NATS server) starts.
	// ctx bounds the start only (it ends when the balancer begins to shut down, before
	// the processes have drained): the service must live until stop is called.
	BeforeChildren func(ctx context.Context) (env []string, stop func(), err error)
	// Relay carries signals to pass on to every running process (serve relays SIGHUP:
	// each process re-reads its set file). Nil: none.
	Relay <-chan os.Signal
	// AdminSocket is the balancer's admin unix socket; empty: admin.DefaultSocket of the
	// public address.
	AdminSocket string
	Logger      *slog.Logger

	// RestartInitial and RestartMax bound the backoff between restarts of a process that
	// died (defaults 100ms and 5s).
	RestartInitial, RestartMax time.Duration
	// ReadyTimeout bounds how long a starting process may take to answer /readyz 200
	// (default 2 minutes: the first start may compile WASM modules).
	ReadyTimeout time.Duration
	// UpstreamTimeout bounds the wait for a process's response headers (default 5 minutes;
	// page calls have their own, shorter, deadlines in the host).
	UpstreamTimeout time.Duration
	// ReadyPoll is how often a running process's /readyz is asked (default 1s).
	ReadyPoll time.Duration
}

// Balancer routes the public port to its host processes.
type Balancer struct {
	opts         Options
	logger       *slog.Logger
	spec         *childSpec
	routeCookie  string
	maxBodyBytes int64

	ring     atomic.Pointer[Ring]
	rr       atomic.Uint64 // round robin for requests without page or cookie
	draining atomic.Bool

	// scaleMu serializes scaling (and shutdown) so the ring and the slots change together.
	scaleMu sync.Mutex
	// runCtx is Run's context: a scale waiting for new processes gives up when it ends,
	// so a shutdown does not wait for the ready timeout.
	runCtx context.Context
	// childCtx outlives the public server's shutdown: processes stop after it drained.
	childCtx    context.Context
	stopAllKids context.CancelFunc

	mu       sync.Mutex
	children map[int]*child

	// setMu guards what swaps through the balancer change.
	setMu        sync.Mutex
	setName      string
	setSince     time.Time
	previousFile string
	previousName string
}

// Run starts the processes, serves the public port and the admin socket until ctx ends,
// then drains: the public server stops accepting and waits for in-flight requests (up to
// the set's shutdown_timeout), then every process gets SIGTERM and is waited for.
func Run(ctx context.Context, opts Options) error {
	if opts.Processes < 1 || opts.Processes > MaxProcesses {
		return fmt.Errorf("balancer: %d processes; expected 1 to %d", opts.Processes, MaxProcesses)
	}
	if opts.Set == nil || opts.Listener == nil || opts.Executable == "" {
		return errors.New("balancer: Options need Set, Listener and Executable")
	}
	b := newBalancer(opts)
	b.runCtx = ctx
	env := opts.Env
	if opts.BeforeChildren != nil {
		extra, stop, err := opts.BeforeChildren(ctx)
		if err != nil {
			return fmt.Errorf("balancer: before starting the host processes: %w", err)
		}
		if stop != nil {
			defer stop()
		}
		env = append(env, extra...)
	}
	b.spec.env = env

	// The admin socket stays up until the processes are gone, so status shows them stop.
	adminCtx, stopAdmin := context.WithCancel(context.WithoutCancel(ctx))
	adminDone, err := b.startAdmin(adminCtx)
	if err != nil {
		stopAdmin()
		return err
	}
	defer func() {
		b.stopChildren()
		stopAdmin()
		<-adminDone
	}()

	if _, err := b.Scale(ctx, opts.Processes); err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting: not a failure
		}
		return fmt.Errorf("balancer: start %d processes: %w", opts.Processes, err)
	}
	relayCtx, stopRelay := context.WithCancel(ctx)
	relayDone := make(chan struct{})
	go func() { defer close(relayDone); b.relay(relayCtx, opts.Relay) }()
	defer func() { stopRelay(); <-relayDone }()
	set := opts.Set
	srv := set.Limits.Server(b, b.logger, ctx)
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(opts.Listener) }()
	b.logger.Info("listening", "addr", opts.Listener.Addr().String(), "set", set.Name, "file", set.Path,
		"processes", b.ring.Load().Len(), "balancer", true)
	select {
	case err := <-serveErr:
		return fmt.Errorf("balancer: serve %s: %w", opts.Listener.Addr(), err)
	case <-ctx.Done():
	}
	b.draining.Store(true)
	timeout := set.ShutdownTimeout.D()
	b.logger.Info("shutting down", "drain_timeout", timeout)
	drainCtx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := srv.Shutdown(drainCtx); err != nil {
		b.logger.Warn("in-flight requests still running at the drain timeout", "err", err)
		srv.Close()
	}
	<-serveErr
	return nil
}

func newBalancer(opts Options) *Balancer {
	logger := cmp.Or(opts.Logger, slog.Default())
	set := opts.Set
	b := &Balancer{
		opts:         opts,
		logger:       logger,
		routeCookie:  session.RouteCookie(set.Session.Cookie),
		maxBodyBytes: int64(set.Limits.MaxBodyBytes),
		setName:      set.Name,
		setSince:     time.Now(),
		children:     map[int]*child{},
		spec: &childSpec{
			executable:     opts.Executable,
			args:           opts.ServeArgs,
			logger:         logger,
			restartInitial: cmp.Or(opts.RestartInitial, 100*time.Millisecond),
			restartMax:     cmp.Or(opts.RestartMax, 5*time.Second),
			// A process drains for the set's shutdown_timeout; a little more before SIGKILL.
			stopTimeout:     set.ShutdownTimeout.D() + 5*time.Second,
			upstreamTimeout: cmp.Or(opts.UpstreamTimeout, 5*time.Minute),
			readyPoll:       cmp.Or(opts.ReadyPoll, time.Second),
		},
	}
	b.spec.setFile(set.Path)
	b.ring.Store(NewRing())
	b.childCtx, b.stopAllKids = context.WithCancel(context.Background())
	return b
}

// relay passes the signals from sigs on to every running process until ctx ends.
func (b *Balancer) relay(ctx context.Context, sigs <-chan os.Signal) {
	if sigs == nil {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case sig := <-sigs:
			b.mu.Lock()
			for _, c := range b.children {
				c.signal(sig)
			}
			n := len(b.children)
			b.mu.Unlock()
			b.logger.Info("signal passed on to the host processes", "signal", sig, "processes", n)
		}
	}
}

// child returns process n's slot, or nil.
func (b *Balancer) child(n int) *child {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.children[n]
}

// pickReady chooses, round robin, a ready process of the ring.
func (b *Balancer) pickReady() (int, bool) {
	members := b.ring.Load().members
	if len(members) == 0 {
		return 0, false
	}
	start := b.rr.Add(1)
	for i := range members {
		n := members[(start+uint64(i))%uint64(len(members))]
		if c := b.child(n); c != nil && c.State() == StateReady {
			return n, true
		}
	}
	return 0, false
}

// Scale runs n processes: new ones start, and join the ring together once all of them
// are ready (so the users that move, move once); removed ones leave the ring first, then
// stop gracefully. It returns what it did.
func (b *Balancer) Scale(ctx context.Context, n int) (ScaleResult, error) {
	if n < 1 || n > MaxProcesses {
		return ScaleResult{}, fmt.Errorf("balancer: scale to %d processes; expected 1 to %d", n, MaxProcesses)
	}
	b.scaleMu.Lock()
	defer b.scaleMu.Unlock()
	if b.draining.Load() {
		return ScaleResult{}, errors.New("balancer: shutting down")
	}
	start := time.Now()
	ring := b.ring.Load()
	res := ScaleResult{From: ring.Len(), To: n}
	switch {
	case n > ring.Len():
		var added []*child
		for num := ring.Len() + 1; num <= n; num++ {
			c, err := newChild(num, b.spec)
			if err != nil {
				b.discard(added)
				return res, err
			}
			c.start(b.childCtx)
			added = append(added, c)
			b.mu.Lock()
			b.children[num] = c
			b.mu.Unlock()
			res.Steps = append(res.Steps, fmt.Sprintf("started process %02d on %s", num, c.addr))
		}
		readyCtx, cancel := context.WithTimeout(ctx, cmp.Or(b.opts.ReadyTimeout, 2*time.Minute))
		defer cancel()
		if b.runCtx != nil {
			defer context.AfterFunc(b.runCtx, cancel)()
		}
		for _, c := range added {
			if err := c.waitReady(readyCtx); err != nil {
				b.discard(added)
				return res, fmt.Errorf("balancer: scale to %d: %w", n, err)
			}
		}
		next := ring
		for _, c := range added {
			next = next.With(c.number)
		}
		b.ring.Store(next)
		res.Steps = append(res.Steps, fmt.Sprintf("ring is now %v", next.Members()))
	case n < ring.Len():
		next := ring
		var removed []*child
		for num := ring.Len(); num > n; num-- {
			next = next.Without(num)
			removed = append(removed, b.child(num))
		}
		// Out of the ring first: no new user is sent to a process about to stop.
		b.ring.Store(next)
		res.Steps = append(res.Steps, fmt.Sprintf("ring is now %v", next.Members()))
		b.discard(removed)
		for _, c := range removed {
			res.Steps = append(res.Steps, fmt.Sprintf("stopped process %02d", c.number))
		}
	}
	res.Millis = float64(time.Since(start).Microseconds()) / 1000
	b.logger.Info("scaled", "from", res.From, "to", res.To, "ms", res.Millis)
	return res, nil
}

// ScaleResult is what Scale did.
type ScaleResult struct {
	From, To int
	Millis   float64
	Steps    []string
}

// discard stops the given processes in parallel and forgets their slots.
func (b *Balancer) discard(cs []*child) {
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Go(c.stop)
	}
	wg.Wait()
	b.mu.Lock()
	for _, c := range cs {
		delete(b.children, c.number)
	}
	b.mu.Unlock()
}

// stopChildren stops every process (SIGTERM, drain, wait), in parallel.
func (b *Balancer) stopChildren() {
	b.scaleMu.Lock()
	defer b.scaleMu.Unlock()
	b.draining.Store(true)
	b.mu.Lock()
	all := make([]*child, 0, len(b.children))
	for _, c := range b.children {
		all = append(all, c)
	}
	b.mu.Unlock()
	b.ring.Store(NewRing())
	b.discard(all)
	b.stopAllKids()
}
