package pluginmgr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/host/metrics"
	"github.com/gnrhost/gnrhost/host/pluginset"
)

// unhealthyLimit is how many failed health checks in a row make the manager kill and
// restart an out-of-process plugin that is still running (hung rather than crashed).
const unhealthyLimit = 3

// exitPoll is how often the supervisor looks for a crashed child. go-plugin offers no exit
// notification, only Exited(); 50 ms keeps the 503 window short at negligible cost.
const exitPoll = 50 * time.Millisecond

// RegistryConfig is what a registry slot needs to run.
type RegistryConfig struct {
	Factory abi.RegistryFactory
	Slot    *pluginset.PluginSlot
	Health  pluginset.HealthSettings
	// Executable re-executed for mode: process (normally os.Executable()).
	Executable string
	Logger     *slog.Logger
	Metrics    *metrics.Metrics
}

// RegistrySlot runs the registry plugin of a set and is itself an abi.Registry whose
// identity never changes while the plugin behind it crashes and restarts.
type RegistrySlot struct {
	cfg    RegistryConfig
	logger *slog.Logger
	ops    *opMetrics

	current atomic.Pointer[abi.Registry]

	mu     sync.Mutex
	status Status
	proc   *processBackend

	cancel context.CancelFunc
	done   chan struct{}
}

// StartRegistry starts the slot's plugin and returns once it answers a Ping. A plugin that
// cannot start is an error here, so `serve` and `swap` fail before switching anything.
func StartRegistry(ctx context.Context, cfg RegistryConfig) (*RegistrySlot, error) {
	logger := cfg.Logger.With("slot", "registry", "plugin", cfg.Slot.Plugin)
	s := &RegistrySlot{
		cfg:    cfg,
		logger: logger,
		ops:    newOpMetrics(cfg.Metrics),
		status: Status{Slot: "registry", Plugin: cfg.Slot.Plugin, Mode: string(cfg.Slot.Mode), State: StateStarting, Since: time.Now()},
		done:   make(chan struct{}),
	}
	startedAt := time.Now()
	if err := s.startBackend(ctx); err != nil {
		return nil, err
	}
	logger.Info("plugin started", "mode", cfg.Slot.Mode, "pid", s.status.PID, "took", time.Since(startedAt).Round(time.Microsecond))
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go s.supervise(runCtx)
	return s, nil
}

func (s *RegistrySlot) startBackend(ctx context.Context) error {
	var reg abi.Registry
	var proc *processBackend
	switch s.cfg.Slot.Mode {
	case pluginset.ModeProcess:
		p, err := startProcess(ctx, s.cfg.Executable, s.cfg.Slot, s.logger)
		if err != nil {
			s.setState(StateDown, err)
			return err
		}
		proc, reg = p, p.reg
	default:
		r, err := s.cfg.Factory.New(ctx, s.cfg.Slot.Config, s.logger)
		if err != nil {
			s.setState(StateDown, err)
			return fmt.Errorf("start plugin %s: %w", s.cfg.Slot.Plugin, err)
		}
		if err := r.Ping(ctx); err != nil {
			_ = r.Close()
			s.setState(StateDown, err)
			return fmt.Errorf("plugin %s: first ping: %w", s.cfg.Slot.Plugin, err)
		}
		reg = r
	}
	s.mu.Lock()
	s.proc = proc
	if proc != nil {
		s.status.PID = proc.pid
	}
	s.mu.Unlock()
	s.current.Store(&reg)
	s.setState(StateUp, nil)
	return nil
}

func (s *RegistrySlot) setState(state State, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.status.State != state {
		s.status.Since = time.Now()
	}
	s.status.State = state
	if err != nil {
		s.status.LastError = err.Error()
	}
	up := 0.0
	if state == StateUp {
		up = 1
	}
	if m := s.cfg.Metrics; m != nil {
		m.PluginUp.WithLabelValues("registry", s.cfg.Slot.Plugin, string(s.cfg.Slot.Mode)).Set(up)
	}
}

// Status returns a snapshot of the plugin's state.
func (s *RegistrySlot) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// Healthy reports whether the plugin is up and passed its last health check.
func (s *RegistrySlot) Healthy() bool { return s.Status().State == StateUp }

// supervise health-checks the plugin; for a child process it also restarts it after a
// crash or repeated failed checks, with exponential backoff.
func (s *RegistrySlot) supervise(ctx context.Context) {
	defer close(s.done)
	initial, maxBackoff := s.cfg.Slot.Restart.Initial.D(), s.cfg.Slot.Restart.Max.D()
	backoff := initial
	for {
		upSince := time.Now()
		reason := s.watch(ctx)
		if ctx.Err() != nil {
			return
		}
		if s.cfg.Slot.Mode != pluginset.ModeProcess {
			// watch only returns early for a child process.
			return
		}
		// A plugin that stayed up longer than the longest backoff earned a fresh start;
		// one that keeps crashing soon after starting keeps backing off.
		if time.Since(upSince) > maxBackoff {
			backoff = initial
		}
		// Down first, then stop: nobody may see the old process gone while the state
		// still says up.
		s.current.Store(nil)
		s.setState(StateDown, reason)
		s.stopProcess()
		s.logger.Error("plugin down; restarting", "reason", reason, "backoff", backoff)
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, maxBackoff)
			s.mu.Lock()
			s.status.Restarts++
			s.mu.Unlock()
			if m := s.cfg.Metrics; m != nil {
				m.PluginRestarts.WithLabelValues("registry", s.cfg.Slot.Plugin).Inc()
			}
			startCtx, cancel := context.WithTimeout(ctx, StartTimeout)
			err := s.startBackend(startCtx)
			cancel()
			if err == nil {
				s.logger.Info("plugin restarted", "pid", s.Status().PID, "restarts", s.Status().Restarts)
				break
			}
			if ctx.Err() != nil {
				return
			}
			s.logger.Error("plugin restart failed", "err", err, "next_backoff", backoff)
		}
	}
}

// watch returns when the child process exited or failed unhealthyLimit checks in a row
// (with the reason), or when ctx ends. An in-process plugin is only health-checked.
func (s *RegistrySlot) watch(ctx context.Context) error {
	health := time.NewTicker(s.cfg.Health.Interval.D())
	defer health.Stop()
	exit := time.NewTicker(exitPoll)
	defer exit.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-exit.C:
			s.mu.Lock()
			proc := s.proc
			s.mu.Unlock()
			if proc != nil && proc.exited() {
				return errors.New("plugin process exited")
			}
		case <-health.C:
			err := s.ping(ctx)
			if ctx.Err() != nil {
				return nil
			}
			if err == nil {
				failures = 0
				s.setState(StateUp, nil)
				continue
			}
			failures++
			s.setState(StateUnhealthy, err)
			s.logger.Warn("plugin health check failed", "err", err, "failures", failures)
			if failures >= unhealthyLimit && s.cfg.Slot.Mode == pluginset.ModeProcess {
				return fmt.Errorf("%d health checks failed, last: %w", failures, err)
			}
		}
	}
}

func (s *RegistrySlot) ping(ctx context.Context) error {
	p := s.current.Load()
	if p == nil {
		return errors.New("no backend")
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Health.Timeout.D())
	defer cancel()
	return (*p).Ping(ctx)
}

func (s *RegistrySlot) stopProcess() {
	s.mu.Lock()
	proc := s.proc
	s.proc = nil
	s.status.PID = 0
	s.mu.Unlock()
	if proc != nil {
		proc.stop()
	}
}

// Close stops the supervisor and the plugin, and frees what it held. Calls after Close
// fail with a DownError.
func (s *RegistrySlot) Close() error {
	if s.cancel == nil {
		return nil
	}
	s.cancel()
	<-s.done
	p := s.current.Swap(nil)
	var err error
	if s.cfg.Slot.Mode == pluginset.ModeProcess {
		s.stopProcess()
	} else if p != nil {
		err = (*p).Close()
	}
	s.setState(StateStopped, nil)
	return err
}

// backend returns the live registry or a DownError naming the plugin.
func (s *RegistrySlot) backend() (abi.Registry, error) {
	if p := s.current.Load(); p != nil {
		return *p, nil
	}
	st := s.Status()
	return nil, &DownError{Slot: st.Slot, Plugin: st.Plugin, State: st.State, Cause: st.LastError}
}

// PluginConfig returns the config the plugin was started with (for status and swaps).
func (s *RegistrySlot) PluginConfig() json.RawMessage { return s.cfg.Slot.Config }
