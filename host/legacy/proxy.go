package legacy

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gnrhost/gnrhost/abi"
)

// Options tune the proxy.
type Options struct {
	// Plugin names the legacy plugin in 503 answers.
	Plugin string
	// ResponseHeaderTimeout bounds the wait for the site's response headers once the
	// request (body included) is sent (default 60s). A site slower than that is a 504.
	ResponseHeaderTimeout time.Duration
	// DialTimeout bounds connecting to a TCP upstream (default 5s). Connecting to a unix
	// socket never waits: a full backlog fails at once (503).
	DialTimeout time.Duration
	// IdleTimeout is how long an idle keep-alive connection to the site is kept for reuse
	// (default 90s).
	IdleTimeout time.Duration
	// MaxIdleConns bounds the idle keep-alive connections kept (default 256).
	MaxIdleConns int
	Logger       *slog.Logger
	// OnError, when set, answers the requests the upstream could not serve (the error
	// says why) instead of the legacy site's 502/503/504 JSON; requests whose client went
	// away are not answered either way. The local balancer uses the proxy for its host
	// processes and answers with their number and state.
	OnError func(w http.ResponseWriter, r *http.Request, err error)
}

// New returns a handler proxying to app.Address().
func New(app abi.LegacyApp, opts Options) (http.Handler, error) {
	return NewProxy(app.Address(), opts)
}

// Proxy is the handler of the legacy routes.
//
// Why not httputil.ReverseProxy: with gunicorn's sync workers every request needs a new
// upstream connection, and http.Transport dials it on a goroutine of its own and then
// runs a read and a write goroutine per connection, talking to the handler over
// channels; ReverseProxy also clones the request and copies every header map. Under
// bench/legacy.sh that was ~235 µs of CPU per request (profiled), on the two cores the
// Python workers need. Proxy does the exchange on the handler's goroutine: it writes the
// request head straight into a pooled buffer, parses the response head itself (one
// string allocation for all of it), connects to the unix socket without the address
// lookups of net.DialUnix (dialUnix), leaves timeouts and gone clients to a shared
// watchdog instead of timers per request, and keeps idle keep-alive connections
// (gthread workers) in a LIFO stack.
type Proxy struct {
	plugin        string
	logger        *slog.Logger
	headerTimeout time.Duration
	idleTimeout   time.Duration
	maxIdle       int

	unixPath string // set for "unix:/path" upstreams
	tcpAddr  string // host:port otherwise
	dialer   net.Dialer
	// host is sent as Host when the client sent none (HTTP/1.0).
	host string

	mu   sync.Mutex
	idle []*upConn // oldest first; reuse takes the newest, the least likely to be stale

	wd *watchdog

	onError func(w http.ResponseWriter, r *http.Request, err error)

	// fallback serves what the lean path does not: protocol upgrades (WebSocket through
	// a site that speaks it) and requests announcing trailers.
	fallback *httputil.ReverseProxy
}

// NewProxy returns a proxy to addr: "unix:/path" or "http://host:port".
func NewProxy(addr string, opts Options) (*Proxy, error) {
	if opts.ResponseHeaderTimeout <= 0 {
		opts.ResponseHeaderTimeout = 60 * time.Second
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 5 * time.Second
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 90 * time.Second
	}
	if opts.MaxIdleConns <= 0 {
		opts.MaxIdleConns = 256
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	p := &Proxy{
		plugin:        opts.Plugin,
		logger:        opts.Logger,
		headerTimeout: opts.ResponseHeaderTimeout,
		idleTimeout:   opts.IdleTimeout,
		maxIdle:       opts.MaxIdleConns,
		dialer:        net.Dialer{Timeout: opts.DialTimeout, KeepAlive: 30 * time.Second},
		host:          "legacy",
		wd:            newWatchdog(opts.ResponseHeaderTimeout),
		onError:       opts.OnError,
	}
	target := &url.URL{Scheme: "http", Host: "legacy"}
	var dial func(ctx context.Context, _, _ string) (net.Conn, error)
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		p.unixPath = path
		dial = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return p.dialer.DialContext(ctx, "unix", path)
		}
	} else {
		u, err := url.Parse(addr)
		if err != nil || u.Host == "" {
			return nil, errors.New("legacy: bad upstream address " + addr)
		}
		p.tcpAddr, p.host, target.Host = u.Host, u.Host, u.Host
		dial = p.dialer.DialContext
	}
	p.fallback = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host // the site sees the host the browser asked for
			pr.SetXForwarded()
		},
		Transport: &http.Transport{
			DialContext:           dial,
			MaxIdleConnsPerHost:   8,
			IdleConnTimeout:       opts.IdleTimeout,
			ResponseHeaderTimeout: opts.ResponseHeaderTimeout,
			DisableCompression:    true, // the site's bodies pass through untouched
		},
		FlushInterval: -1, // upgraded connections and trailers are interactive
		ErrorHandler:  p.fail,
	}
	return p, nil
}

// inlineBodyMax is the largest request body sent on the handler's goroutine before the
// response is read. It fits the socket's send buffer, so writing it cannot block on a
// site that answers before reading; larger and chunked bodies go on a goroutine of their
// own so that an early answer (a 413, a redirect) still gets through.
const inlineBodyMax = 32 << 10

// maxHeadBytes bounds a response head from the site.
const maxHeadBytes = 1 << 20

var (
	errBadResponse = errors.New("legacy: malformed response from the site")
	errClientBody  = errors.New("legacy: reading the request body from the client")
)

// ServeHTTP proxies one request.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Trailer != nil || r.Method == http.MethodConnect || isUpgrade(r.Header) {
		p.fallback.ServeHTTP(w, r)
		return
	}
	ex := exchangePool.Get().(*exchange)
	p.serve(w, r, ex)
	ex.release()
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request, ex *exchange) {
	ctx := r.Context()
	hasBody := r.ContentLength != 0
	// Replaying is safe only for a request without a body whose method says so; the
	// others only take idle connections that pass a liveness probe.
	replayable := !hasBody && idempotent(r.Method)
	var (
		uc   *upConn
		h    head
		body *bodySender
	)
	for attempt := 0; ; attempt++ {
		var err error
		if attempt == 0 {
			uc, err = p.conn(ctx, !replayable)
		} else {
			uc, err = p.dial(ctx) // the retry: another idle connection may be as stale
		}
		if err != nil {
			p.fail(w, r, fmt.Errorf("legacy: connect to the site: %w", err))
			return
		}
		// A client that goes away, or a site too slow to answer, gets the connection
		// closed, which ends any wait on it.
		p.wd.watch(uc, ctx)
		h, body, err = p.roundTrip(ex, uc, r)
		if err == nil {
			break
		}
		reused := uc.reused
		p.wd.unwatch(uc)
		p.discard(uc) // uc is recycled from here on
		if errors.Is(err, errClientBody) {
			p.failClient(w, r, err)
			return
		}
		// gunicorn closes idle keep-alive connections (after 2s by default): a reused
		// connection that died before a byte of the answer came back is retried once.
		if reused && replayable && len(ex.raw) == 0 && attempt == 0 && ctx.Err() == nil && isConnDead(err) {
			continue
		}
		p.fail(w, r, err)
		return
	}

	reusable, copyErr := p.copyResponse(w, ex, uc, &h)
	if body != nil {
		// The site answered; a body it did not read makes the connection unusable.
		if !body.finished() {
			reusable = false
			_ = uc.c.Close()
		}
		if body.wait() != nil {
			reusable = false
		}
	}
	if p.wd.unwatch(uc) {
		reusable = false // the client went away and the connection is closed
	}
	if reusable {
		p.putIdle(uc)
	} else {
		p.discard(uc)
	}
	if copyErr != nil {
		// The status line is out: cutting the client's connection is the only way to
		// tell it the body is incomplete (what httputil.ReverseProxy does too). What
		// came is flushed first: the client gets the head and a short body, not nothing.
		_ = http.NewResponseController(w).Flush()
		panic(http.ErrAbortHandler)
	}
}

// roundTrip sends r on uc and reads the response head into ex. When the body goes on a
// goroutine of its own, the returned sender is non-nil and must be waited for.
func (p *Proxy) roundTrip(ex *exchange, uc *upConn, r *http.Request) (head, *bodySender, error) {
	bw := uc.bw
	writeRequestHead(bw, r, p.host)
	var (
		body    *bodySender
		sendErr error
	)
	switch n := r.ContentLength; {
	case n == 0:
		sendErr = bw.Flush()
	case n > 0 && n <= inlineBodyMax:
		cb := clientBody{r: r.Body}
		sendErr = copyBody(bw, &cb, n, ex.buffer())
		if cb.err != nil {
			return head{}, nil, fmt.Errorf("%w: %w", errClientBody, cb.err)
		}
		if sendErr == nil {
			sendErr = bw.Flush()
		}
	default:
		body = startBody(uc, r, ex.upBuffer(), p.wd, p.headerTimeout)
	}
	if body == nil {
		uc.armHeaderTimeout(p.wd.now() + p.headerTimeout)
	}
	// Read the answer even when sending failed: a site may answer (413, 400) and close
	// before reading everything.
	h, err := readHead(ex, uc.br, r.Method)
	uc.headerRead()
	if err != nil {
		if body != nil {
			_ = uc.c.Close()
			if body.wait(); body.clientErr != nil {
				return head{}, nil, fmt.Errorf("%w: %w", errClientBody, body.clientErr)
			}
		}
		if uc.timedOut.Load() {
			return head{}, nil, errHeaderTimeout
		}
		if sendErr != nil && len(ex.raw) == 0 {
			err = sendErr
		}
		return head{}, nil, fmt.Errorf("legacy: read the site's answer: %w", err)
	}
	if sendErr != nil {
		h.reusable = false
	}
	return h, body, nil
}

// copyResponse writes the head in h and streams the body from uc to w. It reports
// whether uc may be reused and, when the body could not be copied, why.
func (p *Proxy) copyResponse(w http.ResponseWriter, ex *exchange, uc *upConn, h *head) (bool, error) {
	if fa := fieldAdderOf(w); fa != nil {
		ex.addFields(fa)
	} else {
		ex.copyHeaders(w.Header())
	}
	w.WriteHeader(h.status)
	br := uc.br
	switch h.mode {
	case bodyNone:
		return h.reusable, nil
	case bodySized:
		n := h.length
		if n <= int64(br.Buffered()) {
			// The common case (a page, an RPC answer): the whole body came with the head.
			b, _ := br.Peek(int(n))
			_, err := w.Write(b)
			_, _ = br.Discard(int(n))
			return h.reusable && err == nil, err
		}
		err := copySized(w, br, n, ex.buffer(), h.stream)
		return h.reusable && err == nil, err
	case bodyChunked:
		cr := httputil.NewChunkedReader(br)
		if err := copyStream(w, cr, ex.buffer()); err != nil {
			return false, err
		}
		if err := ex.readTrailers(br, w.Header()); err != nil {
			return false, err
		}
		return h.reusable, nil
	default: // the body ends when the site closes the connection
		return false, copyStream(w, br, ex.buffer())
	}
}

// fail answers a request the site could not serve: 504 when it was too slow, 502 for a
// malformed answer, 503 naming the plugin otherwise (refused, reset or cut: the site is
// restarting or down, and clients should retry).
func (p *Proxy) fail(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return // the client went away
	}
	if p.onError != nil {
		p.onError(w, r, err)
		return
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		writeError(w, http.StatusRequestEntityTooLarge, map[string]any{"error": "request body too large", "limit_bytes": mbe.Limit})
		return
	}
	code := http.StatusServiceUnavailable
	msg := "the legacy site (" + p.plugin + ") is unavailable; retry shortly"
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		code = http.StatusGatewayTimeout
		msg = "the legacy site (" + p.plugin + ") did not answer in time"
	case errors.Is(err, errBadResponse):
		code = http.StatusBadGateway
		msg = "the legacy site (" + p.plugin + ") sent a malformed answer"
	}
	p.logger.Warn("legacy proxy", "path", r.URL.Path, "status", code, "err", err)
	if code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeError(w, code, map[string]any{"error": msg, "plugin": p.plugin, "slot": "legacy"})
}

// failClient answers a request whose body could not be read from the client.
func (p *Proxy) failClient(w http.ResponseWriter, r *http.Request, err error) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) || r.Context().Err() != nil {
		p.fail(w, r, err)
		return
	}
	p.logger.Debug("legacy proxy: request body", "path", r.URL.Path, "err", err)
	writeError(w, http.StatusBadRequest, map[string]any{"error": "could not read the request body"})
}

func writeError(w http.ResponseWriter, code int, body map[string]any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}

// copyBody writes the n-byte body from src to bw through buf; what goes wrong on the
// client's side is left in src.err. bw is hidden behind a plain Writer so that large
// reads go to the socket in one write instead of through bw's 4 KB buffer.
func copyBody(bw *bufio.Writer, src *clientBody, n int64, buf []byte) error {
	copied, err := io.CopyBuffer(writerOnly{bw}, io.LimitReader(src, n), buf)
	if err == nil && copied < n {
		src.err = io.ErrUnexpectedEOF // the client sent less than it announced
	}
	if src.err != nil {
		return nil
	}
	return err
}

// copyChunked sends src to bw in chunked encoding, one chunk per read, each flushed so
// that a streamed upload reaches the site as it comes.
func copyChunked(bw *bufio.Writer, src *clientBody, buf []byte) error {
	var size [16]byte
	for {
		n, rerr := src.Read(buf)
		if n > 0 {
			_, _ = bw.Write(strconv.AppendInt(size[:0], int64(n), 16))
			_, _ = bw.WriteString("\r\n")
			_, _ = bw.Write(buf[:n])
			_, _ = bw.WriteString("\r\n")
			if err := bw.Flush(); err != nil {
				return err
			}
		}
		if rerr == io.EOF {
			_, _ = bw.WriteString("0\r\n\r\n")
			return bw.Flush()
		}
		if rerr != nil {
			return nil // in src.err
		}
	}
}

type writerOnly struct{ io.Writer }

// clientBody remembers read errors from the client, to tell them from the site's.
type clientBody struct {
	r   io.Reader
	err error
}

func (b *clientBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

func isUpgrade(h http.Header) bool {
	return h["Upgrade"] != nil && tokenListContains(h["Connection"], "upgrade")
}
