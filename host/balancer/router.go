package balancer

import (
	"net/http"

	"github.com/gnrhost/gnrhost/host/session"
)

// PageIDHeader is the header client.js sends with each RPC, naming its page. The page id
// is also in the JSON body, but the balancer never reads bodies.
const PageIDHeader = "X-Gnr-Page-Id"

// ProcessHeader names the process that answered; the host sets it when it has a number.
const ProcessHeader = "X-Gnr-Process"

// Reason says which rule picked a request's process.
type Reason string

const (
	// ReasonPage: the page id ends in "|pNN" and NN is in the ring; the page lives there.
	ReasonPage Reason = "page"
	// ReasonCookie: the route cookie (the user) hashed over the ring.
	ReasonCookie Reason = "cookie"
	// ReasonAny: a request without page or cookie (a first visit) goes to any ready
	// process; the cookie it gets back pins the user from then on.
	ReasonAny Reason = "any"
	// ReasonNone: no process can take the request.
	ReasonNone Reason = "none"
)

// Decision is the process a request goes to, and why.
type Decision struct {
	Process int
	Reason  Reason
}

// Route decides where r goes. routeCookie is the route cookie's name
// (session.RouteCookie of the set's cookie); pickAny chooses a ready process for requests
// that carry neither page nor cookie.
//
// A page suffix naming a process outside the ring (scaled away, or a malformed id) is
// ignored: the user's cookie picks the process, which answers that it does not know the
// page, and the client reloads it.
func Route(r *http.Request, routeCookie string, ring *Ring, pickAny func() (int, bool)) Decision {
	pageID := r.Header.Get(PageIDHeader)
	if pageID == "" {
		pageID = r.URL.Query().Get("page_id")
	}
	if pageID != "" {
		if p, ok := session.ProcessOf(pageID); ok && ring.Has(int(p)) {
			return Decision{Process: int(p), Reason: ReasonPage}
		}
	}
	if c, err := r.Cookie(routeCookie); err == nil && c.Value != "" && len(c.Value) <= session.MaxCookieBytes {
		if p, ok := ring.Pick(c.Value); ok {
			return Decision{Process: p, Reason: ReasonCookie}
		}
	}
	if p, ok := pickAny(); ok {
		return Decision{Process: p, Reason: ReasonAny}
	}
	return Decision{Reason: ReasonNone}
}
