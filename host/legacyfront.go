package host

import (
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/gnrhost/gnrhost/host/legacy/front"
	"github.com/gnrhost/gnrhost/host/pluginset"
)

// FrontEnv turns the connection-level front of the legacy routes off when set to "off"
// (GNRHOST_LEGACY_FRONT=off): every request then goes through net/http's server and the
// chi router, as before the front existed.
const FrontEnv = "GNRHOST_LEGACY_FRONT"

// frontEnabled reports whether Serve puts the front before net/http.
func frontEnabled() bool { return os.Getenv(FrontEnv) != "off" }

// legacyRoutes answers, for the front, the question the chi router answers when it
// picks a handler: is this request the legacy proxy's? It asks the router itself
// (Mux.Find) rather than matching prefixes again, so page routes, host endpoints and
// method-not-allowed cases come out the same (TestLegacyRoutesAgreeWithRouter).
type legacyRoutes struct {
	mux      *chi.Mux
	handler  http.Handler // the instrumented proxy, as the router calls it
	patterns map[string]bool
	// root: "/" is a legacy route, so whatever no other route takes (not found, a
	// method not allowed, a method chi does not know) is the proxy's.
	root bool
}

var routeCtxPool = sync.Pool{New: func() any { return chi.NewRouteContext() }}

// match reports whether the router would hand a request for method and u to the proxy.
func (lr *legacyRoutes) match(method string, u *url.URL) bool {
	// The path chi routes on (Mux.routeHTTP).
	path := u.RawPath
	if path == "" {
		path = u.Path
	}
	if path == "" {
		path = "/"
	}
	rctx := routeCtxPool.Get().(*chi.Context)
	rctx.Reset()
	// "" when nothing matches, the method is not allowed there, or chi does not know
	// the method: the router's NotFound and MethodNotAllowed handlers.
	pattern := lr.mux.Find(rctx, method, path)
	routeCtxPool.Put(rctx)
	if pattern == "" {
		return lr.root
	}
	return lr.patterns[pattern]
}

// frontRouter gives the front the legacy routes of the running set: a request is
// counted in its generation's in-flight requests from the route decision until its
// answer is out, as ServeHTTP does, so a swap waits for it and the next request uses
// the new set's proxy.
type frontRouter struct{ rt *Runtime }

func (fr frontRouter) Route(r *http.Request) (front.Route, bool) {
	rt := fr.rt
	if err := rt.waitHold(r.Context()); err != nil {
		return front.Route{}, false
	}
	for {
		g := rt.cur.Load()
		if g.enter() {
			lr := g.host.legacyRoutes
			if lr == nil || !lr.match(r.Method, r.URL) {
				g.inflight.Done()
				return front.Route{}, false
			}
			return front.Route{Handler: lr.handler, MaxBodyBytes: int64(g.host.set.Limits.MaxBodyBytes), Token: g}, true
		}
		if rt.cur.Load() == g {
			time.Sleep(time.Millisecond) // a failed swap is putting g back
		}
	}
}

func (frontRouter) Done(route front.Route) { route.Token.(*generation).inflight.Done() }

// newFront makes the front for Serve, bound by the same limits as the net/http server
// it hands the other connections to.
func (rt *Runtime) newFront(limits pluginset.RequestLimits) *front.Server {
	var header http.Header
	if rt.processHeader != "" {
		header = http.Header{"X-Gnr-Process": {rt.processHeader}}
	}
	return front.New(front.Config{
		Router:            frontRouter{rt},
		MaxHeaderBytes:    limits.MaxHeaderBytes,
		ReadHeaderTimeout: limits.ReadHeaderTimeout.D(),
		IdleTimeout:       limits.IdleTimeout.D(),
		Header:            header,
		Logger:            rt.logger,
	})
}
