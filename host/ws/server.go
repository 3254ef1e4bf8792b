package ws

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gobwas/ws"

	"github.com/gnrhost/gnrhost/host/metrics"
	"github.com/gnrhost/gnrhost/host/pages"
	"github.com/gnrhost/gnrhost/host/pluginset"
	"github.com/gnrhost/gnrhost/host/session"
)

// DefaultWriteTimeout bounds one frame write: a client whose socket stays full longer is
// closed.
const DefaultWriteTimeout = 10 * time.Second

// sendBuffer caps the kernel's send buffer of a WebSocket connection, so a client that
// stops reading is noticed after kilobytes, not megabytes of autotuned buffer.
const sendBuffer = 64 << 10

// Pages is what the endpoint needs of the page layer: a page's push stream (checking the
// caller owns it) and RPC calls. A *pages.Manager is one; a host that swaps plugin sets
// passes one that reaches whichever set is running, so sockets outlive a swap.
type Pages interface {
	Stream(ctx context.Context, caller session.Identity, id string) (*pages.PushStream, error)
	RPC(ctx context.Context, caller session.Identity, pageID, method string, params []byte) (*pages.RPCResponse, error)
}

// Config wires the endpoint into its host.
type Config struct {
	Settings     pluginset.WebSocket
	Pages        Pages
	ReadIdentity func(*http.Request) (session.Identity, error)
	Logger       *slog.Logger
	Metrics      *metrics.Metrics
	WriteTimeout time.Duration
}

// Server is the WebSocket endpoint.
type Server struct {
	cfg     Config
	origins map[string]bool

	mu      sync.Mutex
	conns   map[*conn]struct{}
	closing bool
	wg      sync.WaitGroup
}

// New makes the endpoint.
func New(cfg Config) *Server {
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, origins: map[string]bool{}, conns: map[*conn]struct{}{}}
	for _, o := range cfg.Settings.AllowedOrigins {
		s.origins[strings.TrimSuffix(strings.ToLower(o), "/")] = true
	}
	return s
}

// Count is the number of open connections.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func httpError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg+"\n")
}

// originAllowed implements the cross-site WebSocket hijacking defence: a browser always
// sends Origin, and only the host's own origin or a configured one may connect. Clients
// that send no Origin are not browsers and carry no ambient credentials of a victim.
func (s *Server) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	return s.origins[strings.ToLower(u.Scheme+"://"+u.Host)]
}

// ServeHTTP checks the request (a page of the caller's connection, an allowed Origin)
// before upgrading it; a refused upgrade is an ordinary HTTP error.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		httpError(w, http.StatusBadRequest, "WebSocket upgrade expected")
		return
	}
	if !s.originAllowed(r) {
		httpError(w, http.StatusForbidden, "origin not allowed")
		return
	}
	q := r.URL.Query()
	pageID := q.Get("page_id")
	if !session.ValidID(pageID) {
		httpError(w, http.StatusBadRequest, "page_id must be a 22-character page id")
		return
	}
	id, err := s.cfg.ReadIdentity(r)
	if err != nil {
		httpError(w, http.StatusForbidden, "no valid connection cookie")
		return
	}
	stream, err := s.cfg.Pages.Stream(r.Context(), id, pageID)
	switch {
	case errors.Is(err, pages.ErrForbidden):
		httpError(w, http.StatusForbidden, "page belongs to another connection")
		return
	case errors.Is(err, pages.ErrPageNotFound):
		// A browser cannot see the status of a refused upgrade, only that the socket
		// failed, and would retry forever: it is told to reload on an open socket.
		s.upgradeToReload(w, r, "page not found (expired, closed, or its process restarted)")
		return
	case err != nil:
		httpError(w, http.StatusServiceUnavailable, "registry unavailable")
		return
	}
	var resumeSeq uint64
	resumeEpoch := q.Get("epoch")
	if v := q.Get("last_seq"); v != "" {
		if resumeSeq, err = strconv.ParseUint(v, 10, 64); err != nil {
			httpError(w, http.StatusBadRequest, "last_seq must be a number")
			return
		}
	}

	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		httpError(w, http.StatusServiceUnavailable, "shutting down")
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()

	nc, rw, _, err := ws.HTTPUpgrader{}.Upgrade(r, w)
	if err != nil {
		s.wg.Done()
		s.cfg.Logger.Debug("websocket upgrade failed", "err", err)
		return
	}
	// A *net.TCPConn, or the legacy front's wrapper of one (a connection it handed over).
	if tcp, ok := nc.(interface{ SetWriteBuffer(int) error }); ok {
		_ = tcp.SetWriteBuffer(sendBuffer)
	}
	// The handshake's buffered reader is dropped unless the client already sent frames,
	// so an idle connection holds no read buffer.
	var rd io.Reader = nc
	if n := rw.Reader.Buffered(); n > 0 {
		early, _ := rw.Reader.Peek(n)
		rd = io.MultiReader(strings.NewReader(string(early)), nc)
	}
	c := &conn{s: s, nc: nc, rd: rd, id: id, pageID: pageID, stream: stream}
	if sc, ok := nc.(syscall.Conn); ok {
		c.raw, _ = sc.SyscallConn()
	}
	s.register(c)
	// Serve on a fresh goroutine and let the HTTP handler return: the request's goroutine
	// (with its grown stack) and its buffers are freed, and the socket costs only a small
	// goroutine blocked in a read.
	ctx := context.WithoutCancel(r.Context())
	go func() {
		defer s.wg.Done()
		defer s.unregister(c)
		c.run(ctx, resumeEpoch, resumeSeq)
	}()
}

// goFlush runs f on a goroutine that Close waits for, unless the server is closing (then
// it returns false: Close is closing every socket anyway). The check and the count are
// taken under mu, as Close sets closing before it waits.
func (s *Server) goFlush(f func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
	return true
}

func (s *Server) register(c *conn) {
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	if m := s.cfg.Metrics; m != nil {
		m.WSConnections.Inc()
	}
}

func (s *Server) unregister(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	if m := s.cfg.Metrics; m != nil {
		m.WSConnections.Dec()
	}
}

// Close tells every client the host is going away (1001), closes the connections and
// waits for their goroutines, until ctx ends.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.closeWith(CloseGoingAway, "server shutting down")
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Disconnect cuts every socket without a close frame, as a network failure would; clients
// reconnect and resume. Tests use it to check resume end to end.
func (s *Server) Disconnect() {
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.closed.Store(true)
		_ = c.nc.Close()
	}
}

// upgradeToReload accepts the upgrade only to send a reload frame and close with
// CloseReload.
func (s *Server) upgradeToReload(w http.ResponseWriter, r *http.Request, reason string) {
	nc, _, _, err := ws.HTTPUpgrader{}.Upgrade(r, w)
	if err != nil {
		s.cfg.Logger.Debug("websocket upgrade failed", "err", err)
		return
	}
	defer nc.Close()
	_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
	msg, _ := json.Marshal(reloadFrame{Type: "reload", Reason: reason})
	if err := ws.WriteFrame(nc, ws.NewTextFrame(msg)); err != nil {
		return
	}
	_ = ws.WriteFrame(nc, ws.NewCloseFrame(ws.NewCloseFrameBody(CloseReload, "reload")))
	if m := s.cfg.Metrics; m != nil {
		m.WSClosed.WithLabelValues(strconv.Itoa(CloseReload)).Inc()
	}
}
