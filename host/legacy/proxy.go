package legacy

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"

	"github.com/gnrhost/gnrhost/abi"
)

// Options tune the proxy.
type Options struct {
	// Plugin names the legacy plugin in 503 answers.
	Plugin string
	// ResponseHeaderTimeout bounds the wait for the site's response headers (default 60s).
	ResponseHeaderTimeout time.Duration
	Logger                *slog.Logger
}

// New returns a handler proxying to app.Address().
func New(app abi.LegacyApp, opts Options) (http.Handler, error) {
	if opts.ResponseHeaderTimeout <= 0 {
		opts.ResponseHeaderTimeout = 60 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	addr := app.Address()
	target := &url.URL{Scheme: "http", Host: "legacy"}
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	var dial func(ctx context.Context, _, _ string) (net.Conn, error)
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		dial = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, "unix", path)
		}
	} else {
		u, err := url.Parse(addr)
		if err != nil || u.Host == "" {
			return nil, errors.New("legacy: bad upstream address " + addr)
		}
		target.Host = u.Host
		dial = dialer.DialContext
	}
	transport := &http.Transport{
		DialContext:           dial,
		MaxIdleConns:          512,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: opts.ResponseHeaderTimeout,
		// The site's bodies pass through untouched (gzip included).
		DisableCompression: true,
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host // the site sees the host the browser asked for
			pr.SetXForwarded()
		},
		Transport: transport,
		// 0: sized responses go out in as few writes as possible; ReverseProxy flushes
		// every write itself when a response has no length (chunked, streamed), so
		// those still reach the client as they come.
		FlushInterval: 0,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			// Refused, reset or cut connections all mean the site is (re)starting or
			// down: 503, so clients retry. Only a slow site is a 504.
			code := http.StatusServiceUnavailable
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				code = http.StatusGatewayTimeout
			}
			if errors.Is(err, context.Canceled) {
				return // the client went away
			}
			opts.Logger.Warn("legacy proxy", "path", r.URL.Path, "status", code, "err", err)
			w.Header().Set("Content-Type", "application/json")
			if code == http.StatusServiceUnavailable {
				w.Header().Set("Retry-After", "1")
			}
			w.WriteHeader(code)
			_ = json.NewEncoder(w).Encode(map[string]string{
				"error":  "the legacy site (" + opts.Plugin + ") is unavailable; retry shortly",
				"plugin": opts.Plugin,
				"slot":   "legacy",
			})
		},
	}
	return rp, nil
}
