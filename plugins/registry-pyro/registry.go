package registrypyro

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/abi/dbwatch"
	"github.com/gnrhost/gnrhost/plugins/registry-pyro/internal/pyro"
)

// Registry is abi.Registry on a gnrdaemon site register.
type Registry struct {
	cfg    Config
	logger *slog.Logger
	main   *pyro.Pool // the GnrDaemon (nil with sitedaemon_xml)

	resolveMu sync.Mutex // one site resolution at a time
	mu        sync.Mutex
	cur       *site

	watchers dbwatch.Fanout
	closed   atomic.Bool
}

var _ abi.Registry = (*Registry)(nil)

// New connects to the daemon and resolves the site register. A wrong HMAC key fails
// here, with "hmac mismatch: check the key"; a daemon that does not answer does not: the
// registry starts, its calls fail with abi.ErrUnavailable, and it connects by itself once
// the daemon is back.
func New(ctx context.Context, cfg Config, logger *slog.Logger) (*Registry, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Registry{cfg: cfg, logger: logger}
	if cfg.SitedaemonXML == "" {
		r.main = pyro.NewPool(cfg.Daemon, cfg.HMACKey, 1)
	}
	startCtx, cancel := context.WithTimeout(ctx, cfg.SiteTimeout)
	defer cancel()
	if _, err := r.site(startCtx); err != nil {
		if errors.Is(err, pyro.ErrHMACMismatch) {
			r.Close()
			return nil, fmt.Errorf("registry-pyro: daemon %s: %w (hmac_key / hmac_key_env must match the gnrdaemon's hmac_key)", r.where(), err)
		}
		var cf *pyro.ConnectFailedError
		if errors.As(err, &cf) {
			r.Close()
			return nil, fmt.Errorf("registry-pyro: daemon %s refused the connection: %w", r.where(), err)
		}
		logger.Warn("gnrdaemon not reachable yet; registry calls fail with 503 until it is", "daemon", r.where(), "err", err)
	}
	return r, nil
}

func (r *Registry) where() string {
	if r.cfg.SitedaemonXML != "" {
		return r.cfg.SitedaemonXML
	}
	return r.cfg.Daemon
}

// site returns the resolved site register, resolving it on first use or after a failure.
func (r *Registry) site(ctx context.Context) (*site, error) {
	r.mu.Lock()
	s := r.cur
	r.mu.Unlock()
	if s != nil {
		return s, nil
	}
	r.resolveMu.Lock()
	defer r.resolveMu.Unlock()
	r.mu.Lock()
	s = r.cur
	r.mu.Unlock()
	if s != nil {
		return s, nil
	}
	s, err := r.resolveSite(ctx)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed.Load() {
		s.pool.Close()
		return nil, pyro.ErrPoolClosed
	}
	r.cur = s
	return s, nil
}

// forget drops a site whose daemon failed, so the next call resolves it again: a
// restarted gnrdaemon starts the site on a new port.
func (r *Registry) forget(s *site) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cur == s {
		r.cur = nil
		s.pool.Close()
	}
}

// do runs fn against the site with the call timeout, retrying once on a fresh site when
// the daemon connection failed in a way that is safe to repeat: the request was never
// sent (dial refused), or the call only reads. Only readOnly calls may use the proxies'
// Retried methods (they count on this retry).
func (r *Registry) do(ctx context.Context, op string, readOnly bool, fn func(ctx context.Context, s *site) error) error {
	if r.closed.Load() {
		return fmt.Errorf("registry-pyro: %s: %w: registry closed", op, abi.ErrUnavailable)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("registry-pyro: %s: %w", op, err)
	}
	callCtx, cancel := context.WithTimeout(ctx, r.cfg.CallTimeout)
	defer cancel()
	for attempt := 0; ; attempt++ {
		s, err := r.site(callCtx)
		if err == nil {
			err = fn(callCtx, s)
			if err != nil && transportFailure(err) {
				r.forget(s)
			}
		}
		if err == nil {
			return nil
		}
		if attempt == 0 && ctx.Err() == nil && callCtx.Err() == nil && transportFailure(err) &&
			(readOnly || errors.Is(err, pyro.ErrUnavailable) || errors.Is(err, errBeforeWrite)) {
			continue
		}
		return r.mapErr(ctx, op, err)
	}
}

// errBeforeWrite marks a failure of the check an operation makes before its change (the
// item's existence): the change was never sent, so the operation is safe to try again on
// a fresh connection even though it is not read-only. (A connection the daemon closed
// between calls can still look open when the check is written: its FIN not in yet.)
var errBeforeWrite = errors.New("before any change was sent")

// transportFailure reports errors that say nothing about the call itself, only about the
// way to the daemon (or a daemon that no longer has the site's objects).
func transportFailure(err error) bool {
	var re *pyro.RemoteError
	if errors.As(err, &re) {
		return re.Type() == "Pyro4.errors.DaemonError" && strings.Contains(re.Message(), "unknown object")
	}
	return errors.Is(err, pyro.ErrUnavailable) || errors.Is(err, pyro.ErrConnectionBroken) ||
		errors.Is(err, pyro.ErrPoolClosed) || errors.Is(err, pyro.ErrProtocol)
}

// mapErr turns a daemon error into the contract's sentinels.
func (r *Registry) mapErr(ctx context.Context, op string, err error) error {
	switch {
	case errors.Is(err, abi.ErrInvalid), errors.Is(err, abi.ErrNotFound), errors.Is(err, abi.ErrLockHeld):
		return fmt.Errorf("registry-pyro: %s: %w", op, err)
	case ctx.Err() != nil:
		return fmt.Errorf("registry-pyro: %s: %w", op, ctx.Err())
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("registry-pyro: %s: %w: gnrdaemon %s did not answer within %v: %w", op, abi.ErrUnavailable, r.where(), r.cfg.CallTimeout, err)
	}
	var re *pyro.RemoteError
	if errors.As(err, &re) && !transportFailure(err) {
		switch re.Name {
		case "AssertionError", "GnrDaemonException", "KeyError", "ValueError", "TypeError", "AttributeError":
			return fmt.Errorf("registry-pyro: %s: %w: %w", op, abi.ErrInvalid, err)
		}
		return fmt.Errorf("registry-pyro: %s: %w", op, err)
	}
	return fmt.Errorf("registry-pyro: %s: %w: gnrdaemon %s: %w", op, abi.ErrUnavailable, r.where(), err)
}

// call runs one SiteRegister method.
func (s *site) call(ctx context.Context, method string, args []any, kwargs map[string]any) (any, error) {
	return s.register.Call(ctx, method, args, kwargs)
}

// Ping checks that the site register answers.
func (r *Registry) Ping(ctx context.Context) error {
	return r.do(ctx, "Ping", true, func(ctx context.Context, s *site) error {
		_, err := s.call(ctx, "counters", nil, nil)
		return err
	})
}

// Close releases the pools and ends the watchers. Later calls fail with ErrUnavailable.
func (r *Registry) Close() error {
	if r.closed.Swap(true) {
		return fmt.Errorf("registry-pyro: %w: already closed", abi.ErrUnavailable)
	}
	r.mu.Lock()
	s := r.cur
	r.cur = nil
	r.mu.Unlock()
	var errs []error
	if s != nil {
		errs = append(errs, s.pool.Close())
	}
	if r.main != nil {
		errs = append(errs, r.main.Close())
	}
	r.watchers.Close()
	return errors.Join(errs...)
}

func checkRef(ref abi.ItemRef) error {
	if !ref.Register.Valid() {
		return fmt.Errorf("%w: unknown register %q", abi.ErrInvalid, ref.Register)
	}
	if ref.ID == "" {
		return fmt.Errorf("%w: empty item id", abi.ErrInvalid)
	}
	return nil
}

func checkPath(path string) error {
	if path == "" {
		return fmt.Errorf("%w: empty store path", abi.ErrInvalid)
	}
	return nil
}

// reg is the register_name keyword SiteRegister forwards on.
func reg(name abi.RegisterName, kw map[string]any) map[string]any {
	if kw == nil {
		kw = map[string]any{}
	}
	kw["register_name"] = string(name)
	return kw
}
