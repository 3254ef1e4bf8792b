package legacywsgi

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gnrhost/gnrhost/abi"
)

// Factory makes legacy-wsgi known to the host's catalog.
var Factory = abi.LegacyFactory{
	Name: "legacy-wsgi",
	CheckConfig: func(raw json.RawMessage) error {
		_, err := ParseConfig(raw)
		return err
	},
	New: func(ctx context.Context, raw json.RawMessage, dir string, logger *slog.Logger) (abi.LegacyApp, error) {
		cfg, err := ParseConfig(raw)
		if err != nil {
			return nil, err
		}
		if cfg.Upstream != "" {
			return attach(ctx, cfg.Upstream)
		}
		return start(ctx, cfg, dir, logger)
	},
}

// site is a gunicorn the plugin runs and supervises.
type site struct {
	cfg    Config
	dir    string
	socket string
	tmp    string
	logger *slog.Logger

	mu   sync.Mutex
	proc *process
	up   bool

	stop chan struct{}
	done chan struct{}
}

func start(ctx context.Context, cfg Config, dir string, logger *slog.Logger) (*site, error) {
	s := &site{cfg: cfg, dir: dir, logger: logger, stop: make(chan struct{}), done: make(chan struct{})}
	s.socket = cfg.Socket
	if s.socket == "" {
		tmp, err := os.MkdirTemp("", "gnrhost-wsgi-")
		if err != nil {
			return nil, fmt.Errorf("legacy-wsgi: socket dir: %w", err)
		}
		s.tmp = tmp
		s.socket = filepath.Join(tmp, "gunicorn.sock")
	} else {
		s.socket = resolve(dir, s.socket)
		_ = os.Remove(s.socket) // a stale socket from a crash would make gunicorn fail
	}
	startCtx, cancel := context.WithTimeout(ctx, cfg.StartTimeout.D())
	defer cancel()
	if err := s.launch(startCtx); err != nil {
		s.cleanup()
		return nil, err
	}
	go s.supervise()
	return s, nil
}

func (s *site) launch(ctx context.Context) error {
	p, err := startGunicorn(s.cfg, s.dir, s.socket, s.logger)
	if err != nil {
		return fmt.Errorf("legacy-wsgi %s: %w", s.cfg.App, err)
	}
	if err := waitReady(ctx, p, s.socket, s.cfg.HealthPath); err != nil {
		p.stop(time.Second)
		return fmt.Errorf("legacy-wsgi %s: %w", s.cfg.App, err)
	}
	s.mu.Lock()
	s.proc, s.up = p, true
	s.mu.Unlock()
	s.logger.Info("gunicorn serving", "app", s.cfg.App, "socket", s.socket, "pid", p.cmd.Process.Pid, "workers", s.cfg.Workers)
	return nil
}

// supervise restarts gunicorn when it exits, with exponential backoff.
func (s *site) supervise() {
	defer close(s.done)
	backoff := s.cfg.RestartInitial.D()
	for {
		s.mu.Lock()
		p := s.proc
		s.mu.Unlock()
		upSince := time.Now()
		select {
		case <-s.stop:
			return
		case <-p.exited:
		}
		s.mu.Lock()
		s.up = false
		s.mu.Unlock()
		if time.Since(upSince) > s.cfg.RestartMax.D() {
			backoff = s.cfg.RestartInitial.D()
		}
		s.logger.Error("gunicorn exited; restarting", "reason", p.reason(), "backoff", backoff)
		for {
			select {
			case <-s.stop:
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, s.cfg.RestartMax.D())
			ctx, cancel := context.WithTimeout(context.Background(), s.cfg.StartTimeout.D())
			err := s.launch(ctx)
			cancel()
			if err == nil {
				break
			}
			s.logger.Error("gunicorn restart failed", "err", err, "next_backoff", backoff)
		}
	}
}

// Address is the unix socket gunicorn binds.
func (s *site) Address() string { return "unix:" + s.socket }

// Ping reports whether gunicorn runs and accepts connections.
func (s *site) Ping(ctx context.Context) error {
	s.mu.Lock()
	up := s.up
	s.mu.Unlock()
	if !up {
		return errDown
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", s.socket)
	if err != nil {
		return fmt.Errorf("legacy-wsgi: %w: %w", abi.ErrUnavailable, err)
	}
	return c.Close()
}

// Reload makes gunicorn reload the app gracefully: new workers with fresh code, old ones
// finish their requests.
func (s *site) Reload(context.Context) error {
	s.mu.Lock()
	p, up := s.proc, s.up
	s.mu.Unlock()
	if !up || !p.running() {
		return errDown
	}
	return p.cmd.Process.Signal(syscall.SIGHUP)
}

// Close stops gunicorn and removes the socket the plugin made.
func (s *site) Close() error {
	select {
	case <-s.stop:
		return nil
	default:
	}
	close(s.stop)
	<-s.done
	s.mu.Lock()
	p := s.proc
	s.up = false
	s.mu.Unlock()
	if p != nil {
		p.stop(s.cfg.GracefulTimeout.D())
	}
	s.cleanup()
	return nil
}

func (s *site) cleanup() {
	if s.tmp != "" {
		_ = os.RemoveAll(s.tmp)
	}
}

// upstream is a site the plugin attaches to but does not run.
type upstream struct{ addr string }

func attach(ctx context.Context, addr string) (*upstream, error) {
	u := &upstream{addr: addr}
	if err := u.Ping(ctx); err != nil {
		return nil, fmt.Errorf("legacy-wsgi: upstream %s: %w", addr, err)
	}
	return u, nil
}

func (u *upstream) Address() string { return u.addr }

func (u *upstream) Ping(ctx context.Context) error {
	network, address := "tcp", strings.TrimPrefix(u.addr, "http://")
	if path, ok := strings.CutPrefix(u.addr, "unix:"); ok {
		network, address = "unix", path
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, strings.TrimSuffix(address, "/"))
	if err != nil {
		return fmt.Errorf("%w: %w", abi.ErrUnavailable, err)
	}
	return c.Close()
}

func (u *upstream) Reload(context.Context) error {
	return fmt.Errorf("legacy-wsgi: the upstream %s is run by someone else; reload it there", u.addr)
}

func (u *upstream) Close() error { return nil }
