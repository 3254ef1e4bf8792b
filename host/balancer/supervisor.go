package balancer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/gnrhost/gnrhost/host/admin"
	"github.com/gnrhost/gnrhost/host/legacy"
	"github.com/gnrhost/gnrhost/host/pluginmgr"
)

// State of a host process.
type State string

const (
	// StateStarting: the process runs, its /readyz has not answered 200 yet.
	StateStarting State = "starting"
	// StateReady: /readyz answered 200; requests go to it.
	StateReady State = "ready"
	// StateUnready: the process runs but /readyz stopped answering 200 (a plugin down,
	// draining): its requests get 503 at the balancer until it recovers.
	StateUnready State = "unready"
	// StateDown: the process exited; a restart is pending (with backoff).
	StateDown State = "down"
	// StateStopping: SIGTERM sent, waiting for it to drain and exit.
	StateStopping State = "stopping"
	// StateStopped: it exited for good (scaled down, or the balancer stops).
	StateStopped State = "stopped"
)

// EnvBalancerPID names the balancer's pid in a host process's environment: the process
// exits when its parent is no longer that pid (Pdeathsig covers most cases at once; this
// covers the forking thread being gone).
const EnvBalancerPID = "GNRHOST_BALANCER_PID"

// ListenFD is the descriptor number a host process finds its listener on: the first of
// exec.Cmd.ExtraFiles.
const ListenFD = 3

// childSpec is how the supervisor runs host processes.
type childSpec struct {
	executable string
	// args is every process's command line after the executable; each run adds
	// --plugins FILE (the current file), --process NN and --listen-fd 3.
	args []string
	// fileMu guards currentFile, which a swap through the balancer changes.
	fileMu          sync.Mutex
	currentFile     string
	env             []string
	logger          *slog.Logger
	restartInitial  time.Duration
	restartMax      time.Duration
	stopTimeout     time.Duration
	upstreamTimeout time.Duration
	readyPoll       time.Duration
}

func (s *childSpec) file() string {
	s.fileMu.Lock()
	defer s.fileMu.Unlock()
	return s.currentFile
}

func (s *childSpec) setFile(f string) {
	s.fileMu.Lock()
	s.currentFile = f
	s.fileMu.Unlock()
}

// stableAfter: a process that ran this long before dying had a fresh failure, so its
// restart backoff starts over.
const stableAfter = 10 * time.Second

// child is one host process slot: its number, the listener the balancer opened for it,
// and the process currently running on it.
type child struct {
	number int
	addr   string
	ln     *net.TCPListener
	lnFile *os.File // a dup of ln's descriptor, handed to each run
	spec   *childSpec
	logger *slog.Logger

	proxy *legacy.Proxy

	mu       sync.Mutex
	state    State
	gen      int // bumped on every start and exit, so a late readiness answer is ignored
	pid      int
	process  *os.Process // the running process, nil while down
	restarts int
	lastErr  string
	// everReady: the slot's process answered /readyz 200 at least once.
	everReady bool
	changed   chan struct{} // closed and replaced on every state change

	cancel context.CancelFunc
	done   chan struct{} // closed when the supervising goroutine ends
}

// newChild opens the loopback listener of process n. The balancer keeps it open for the
// life of the slot, so a restarted process gets the same address and no other program can
// take the port in between.
func newChild(n int, spec *childSpec) (*child, error) {
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, fmt.Errorf("balancer: listener for process %02d: %w", n, err)
	}
	f, err := ln.File()
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("balancer: listener descriptor for process %02d: %w", n, err)
	}
	c := &child{number: n, addr: ln.Addr().String(), ln: ln, lnFile: f, spec: spec,
		logger: spec.logger.With("process", n), state: StateStarting, changed: make(chan struct{})}
	// The host's lean HTTP/1.1 proxy (host/legacy): the exchange runs on the handler's
	// goroutine, without http.Transport's per-connection goroutines; about half the CPU
	// of httputil.ReverseProxy per request (docs/benchmarks.md). WebSocket upgrades go
	// through its ReverseProxy fallback.
	c.proxy, err = legacy.NewProxy("http://"+c.addr, legacy.Options{
		ResponseHeaderTimeout: spec.upstreamTimeout,
		// Loopback: a dial that does not connect at once will not connect.
		DialTimeout:  2 * time.Second,
		MaxIdleConns: 512,
		Logger:       c.logger,
		OnError:      c.proxyFailed,
	})
	if err != nil {
		f.Close()
		ln.Close()
		return nil, fmt.Errorf("balancer: proxy for process %02d: %w", n, err)
	}
	return c, nil
}

// start runs the supervising goroutine: run the process, restart it when it dies, stop it
// when ctx ends.
func (c *child) start(ctx context.Context) {
	ctx, c.cancel = context.WithCancel(ctx)
	c.done = make(chan struct{})
	go c.supervise(ctx)
}

// stop asks the process to stop (SIGTERM, then SIGKILL after the stop timeout), waits
// for it, and closes the slot's listener.
func (c *child) stop() {
	c.cancel()
	<-c.done
	c.proxy.CloseIdle()
	c.lnFile.Close()
	c.ln.Close()
}

func (c *child) supervise(ctx context.Context) {
	defer close(c.done)
	backoff := c.spec.restartInitial
	for {
		started := time.Now()
		err := c.runOnce(ctx)
		if ctx.Err() != nil {
			c.setState(StateStopped, err)
			c.logger.Info("host process stopped")
			return
		}
		if time.Since(started) > stableAfter {
			backoff = c.spec.restartInitial
		}
		c.logger.Warn("host process exited; restarting", "err", err, "in", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			c.setState(StateStopped, err)
			return
		case <-t.C:
		}
		backoff = min(backoff*2, c.spec.restartMax)
		c.mu.Lock()
		c.restarts++
		c.mu.Unlock()
	}
}

// runOnce runs the process until it exits or ctx ends (then stops it), and returns why
// it ended.
func (c *child) runOnce(ctx context.Context) error {
	args := append(slices.Clone(c.spec.args), "--plugins", c.spec.file(),
		"--process", strconv.Itoa(c.number), "--listen-fd", strconv.Itoa(ListenFD))
	cmd := exec.Command(c.spec.executable, args...)
	cmd.Env = append(os.Environ(), c.spec.env...)
	cmd.Env = append(cmd.Env, EnvBalancerPID+"="+strconv.Itoa(os.Getpid()))
	cmd.ExtraFiles = []*os.File{c.lnFile}
	setChildAttrs(cmd)
	// The process writes to a pipe we read ourselves, rather than through exec's copying
	// goroutine: Wait then returns the moment the process exits (its plugins may hold the
	// pipe a little longer), and the balancer knows at once that it is down.
	pr, pw, err := os.Pipe()
	if err != nil {
		c.setState(StateDown, err)
		return fmt.Errorf("balancer: pipe for process %02d: %w", c.number, err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		err = fmt.Errorf("balancer: start process %02d: %w", c.number, err)
		c.setState(StateDown, err)
		return err
	}
	pw.Close()
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		lw := pluginmgr.NewLogWriter(c.logger)
		_, _ = io.Copy(lw, pr)
		lw.Flush()
	}()
	gen := c.running(cmd.Process)
	c.logger.Info("host process started", "pid", cmd.Process.Pid, "addr", c.addr)

	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	pollCtx, stopPoll := context.WithCancel(ctx)
	pollDone := make(chan struct{})
	go func() { defer close(pollDone); c.pollReady(pollCtx, gen) }()

	var exitErr error
	select {
	case exitErr = <-exited:
		c.setState(StateDown, exitError(exitErr))
	case <-ctx.Done():
		c.setState(StateStopping, nil)
		_ = cmd.Process.Signal(syscall.SIGTERM)
		t := time.NewTimer(c.spec.stopTimeout)
		select {
		case exitErr = <-exited:
		case <-t.C:
			c.logger.Warn("host process did not stop in time; killing it", "timeout", c.spec.stopTimeout)
			_ = cmd.Process.Kill()
			exitErr = <-exited
		}
		t.Stop()
	}
	// Connections kept alive to the dead process would only fail.
	c.proxy.CloseIdle()
	stopPoll()
	<-pollDone
	// A plugin of the dead process may still hold the pipe; its last lines are not worth
	// waiting long for.
	select {
	case <-logDone:
	case <-time.After(2 * time.Second):
		pr.Close()
		<-logDone
	}
	pr.Close()
	return exitError(exitErr)
}

func exitError(err error) error {
	if err == nil {
		return errors.New("exited with status 0")
	}
	return err
}

// pollReady asks the process's /readyz, often while it starts, then every readyPoll.
func (c *child) pollReady(ctx context.Context, gen int) {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	url := "http://" + c.addr + "/readyz"
	const startingPoll = 25 * time.Millisecond
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return
		}
		resp, err := client.Do(req)
		ready := err == nil && resp.StatusCode == http.StatusOK
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if ctx.Err() != nil {
			return
		}
		state := c.polled(gen, ready)
		wait := c.spec.readyPoll
		if state == StateStarting {
			wait = startingPoll
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// running records a freshly started process and returns its generation.
func (c *child) running(p *os.Process) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.pid, c.process = p.Pid, p
	c.setStateLocked(StateStarting)
	return c.gen
}

// polled records a readiness answer for generation gen, unless the process it was about
// has exited or is stopping since; it returns the state now.
func (c *child) polled(gen int, ready bool) State {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen || (c.state != StateStarting && c.state != StateReady && c.state != StateUnready) {
		return c.state
	}
	switch {
	case ready && c.state != StateReady:
		c.everReady = true
		c.logger.Info("host process ready", "pid", c.pid)
		c.setStateLocked(StateReady)
	case !ready && c.state == StateReady:
		c.logger.Warn("host process not ready", "pid", c.pid)
		c.setStateLocked(StateUnready)
	}
	return c.state
}

func (c *child) setState(s State, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s == StateDown || s == StateStopped {
		c.gen++
		c.pid, c.process = 0, nil
	}
	if err != nil && s != StateStopped {
		c.lastErr = err.Error()
	}
	c.setStateLocked(s)
}

func (c *child) setStateLocked(s State) {
	if c.state == s {
		return
	}
	c.state = s
	close(c.changed)
	c.changed = make(chan struct{})
}

// signal sends sig to the running process, if there is one.
func (c *child) signal(sig os.Signal) {
	c.mu.Lock()
	p := c.process
	c.mu.Unlock()
	if p != nil {
		_ = p.Signal(sig)
	}
}

// State is the process's state now.
func (c *child) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// maxStartFailures: a new process that dies this many times more before it is ever ready
// fails the start or scale that wanted it.
const maxStartFailures = 2

// waitReady waits until the process is ready, or ctx ends.
func (c *child) waitReady(ctx context.Context) error {
	for {
		c.mu.Lock()
		state, changed, lastErr := c.state, c.changed, c.lastErr
		failing := !c.everReady && c.restarts >= maxStartFailures
		c.mu.Unlock()
		switch {
		case state == StateReady:
			return nil
		case state == StateStopped:
			return fmt.Errorf("process %02d stopped", c.number)
		case state == StateDown && failing:
			// A set the processes cannot run (a module missing, a port taken) would
			// otherwise be retried until the ready timeout.
			return fmt.Errorf("process %02d exited %d times before it was ever ready; last error: %s", c.number, maxStartFailures+1, lastErr)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			if lastErr != "" {
				return fmt.Errorf("process %02d not ready (%s; last error: %s): %w", c.number, state, lastErr, ctx.Err())
			}
			return fmt.Errorf("process %02d not ready (%s): %w", c.number, state, ctx.Err())
		}
	}
}

func (c *child) status(inRing bool) admin.ProcessStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	return admin.ProcessStatus{Number: c.number, PID: c.pid, Addr: c.addr, State: string(c.state),
		InRing: inRing, Restarts: c.restarts, LastError: c.lastErr}
}

// proxyFailed answers a request the process did not answer: 503 when it died or stopped
// meanwhile (the client retries), 502 when it runs but the exchange failed.
func (c *child) proxyFailed(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		// The client went away; nobody reads the answer.
		return
	}
	var tooLarge *http.MaxBytesError
	var netErr net.Error
	state := c.State()
	if !errors.As(err, &tooLarge) {
		c.logger.Warn("proxy", "path", r.URL.Path, "state", state, "err", err)
	}
	switch {
	case tooLarge != nil:
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]any{"error": "request body too large", "limit_bytes": tooLarge.Limit})
	case state != StateReady:
		unavailable(w, c.number, state)
	case errors.As(err, &netErr) && netErr.Timeout():
		writeJSON(w, http.StatusGatewayTimeout, map[string]any{"error": fmt.Sprintf("host process %02d did not answer in time", c.number), "process": c.number})
	default:
		writeJSON(w, http.StatusBadGateway, map[string]any{"error": fmt.Sprintf("host process %02d did not answer", c.number), "process": c.number})
	}
}
