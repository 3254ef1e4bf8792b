package front

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Route is how the front serves one request a Router took.
type Route struct {
	Handler http.Handler
	// MaxBodyBytes bounds the request body (0: no bound): a larger Content-Length is a
	// 413 before the handler runs, a longer chunked body an *http.MaxBytesError from
	// Body.Read, as with the host's body limit.
	MaxBodyBytes int64
	// Token is handed back to Router.Done (the host's generation).
	Token any
}

// Router decides, request by request, what the front serves itself.
type Router interface {
	// Route returns the route for r, or false to hand the connection to net/http.
	// r.URL, r.Method, r.Host and r.Header are set; the body is not read yet.
	Route(r *http.Request) (Route, bool)
	// Done is called once the request Route took is answered.
	Done(Route)
}

// Config configures a Server. The limits mirror the net/http server's, which serves
// the connections handed over.
type Config struct {
	Router Router
	// MaxHeaderBytes bounds a request head (default http.DefaultMaxHeaderBytes). The
	// front reads heads into a 4 KB buffer; a longer one is handed over to net/http,
	// which enforces this bound (431).
	MaxHeaderBytes int
	// ReadHeaderTimeout bounds reading a request head (0: no bound).
	ReadHeaderTimeout time.Duration
	// IdleTimeout bounds the wait for the next request on a keep-alive connection
	// (0: no bound, as with net/http when ReadTimeout is not set either).
	IdleTimeout time.Duration
	// Header is added to every answer the front writes (X-Gnr-Process); not modified.
	Header http.Header
	Logger *slog.Logger
}

// Server is the front for one listener.
type Server struct {
	cfg     Config
	logger  *slog.Logger
	handoff *handoffListener

	mu       sync.Mutex
	conns    map[*conn]struct{}
	ln       net.Listener
	closing  atomic.Bool
	serving  sync.WaitGroup // the connection goroutines
	lnClosed bool
}

// New returns a front serving with cfg. Serve it on a listener, and serve a net/http
// server on Listener() for what it hands over.
func New(cfg Config) *Server {
	if cfg.MaxHeaderBytes <= 0 {
		cfg.MaxHeaderBytes = http.DefaultMaxHeaderBytes
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	return &Server{cfg: cfg, logger: logger, handoff: newHandoffListener(), conns: make(map[*conn]struct{})}
}

// Listener returns the connections the front hands over, for a net/http server.
// Closing it makes the front close what it would hand over.
func (s *Server) Listener(addr net.Addr) net.Listener {
	s.handoff.addr = addr
	return s.handoff
}

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("front: server closed")

// Serve accepts connections on ln until it fails or the server shuts down. Temporary
// accept errors (out of descriptors) are retried with a backoff, as net/http does.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		_ = ln.Close()
		return ErrServerClosed
	}
	s.ln = ln
	s.mu.Unlock()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return ErrServerClosed
			}
			if temporary(err) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.logger.Warn("front: accept", "err", err, "retry_in", backoff)
				time.Sleep(backoff)
				continue
			}
			return fmt.Errorf("front: accept: %w", err)
		}
		backoff = 0
		tc, ok := nc.(*net.TCPConn)
		if !ok {
			// TLS or anything else the front does not read: net/http's from the start.
			s.handoff.hand(nc)
			continue
		}
		c := s.newConn(tc)
		if c == nil {
			_ = nc.Close()
			continue
		}
		go c.serve()
	}
}

// newConn tracks a new connection; nil while shutting down.
func (s *Server) newConn(tc *net.TCPConn) *conn {
	c := &conn{s: s, nc: tc, ctx: newConnCtx(tc)}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() {
		return nil
	}
	s.conns[c] = struct{}{}
	s.serving.Add(1)
	return c
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.serving.Done()
}

// closeListener stops accepting; the caller holds s.mu.
func (s *Server) closeListener() {
	if s.ln != nil && !s.lnClosed {
		s.lnClosed = true
		_ = s.ln.Close()
	}
}

// shutdownPoll is how often Shutdown looks for connections that went idle.
const shutdownPoll = 10 * time.Millisecond

// Shutdown stops accepting, closes idle connections at once and the others when their
// request is answered (its answer says Connection: close), like http.Server.Shutdown.
// When ctx ends first it closes the rest and returns ctx's error. It does not close the
// hand-over listener: the net/http server's Shutdown does.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing.Store(true)
	s.closeListener()
	s.mu.Unlock()
	t := time.NewTicker(shutdownPoll)
	defer t.Stop()
	for {
		if s.closeIdle() {
			return nil
		}
		select {
		case <-ctx.Done():
			s.Close()
			return fmt.Errorf("front: connections still busy: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// closeIdle closes the idle connections and reports whether none is left.
func (s *Server) closeIdle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.state.Load() == stateIdle {
			c.close()
		}
	}
	return len(s.conns) == 0
}

// Close closes the listener and every connection the front holds, busy or not. Like
// http.Server.Close it does not wait for the handlers: their goroutines end once the
// handler returns, which the closed connection hastens (it cancels the request's
// context, and the legacy proxy's watchdog then cuts the exchange with the site).
func (s *Server) Close() {
	s.mu.Lock()
	s.closing.Store(true)
	s.closeListener()
	for c := range s.conns {
		c.close()
	}
	s.mu.Unlock()
}

// Wait waits for the connection goroutines to end (after Shutdown or Close).
func (s *Server) Wait() { s.serving.Wait() }

// temporary tells accept errors worth retrying: out of descriptors or memory, or a
// connection aborted before it was accepted.
func temporary(err error) bool {
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// HandlerRouter is a Router that serves every request the front can serve with h,
// without limits (tests, and a front for a single handler).
func HandlerRouter(h http.Handler) Router { return handlerRouter{h} }

type handlerRouter struct{ h http.Handler }

func (r handlerRouter) Route(*http.Request) (Route, bool) { return Route{Handler: r.h}, true }
func (handlerRouter) Done(Route)                          {}
