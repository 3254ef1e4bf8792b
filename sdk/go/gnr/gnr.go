package gnr

import (
	"encoding/json"
	"errors"
)

// Handler is a page handler. Load replies the page's HTML; RPC replies a result that is
// encoded with Marshal (use json.RawMessage for JSON you already have).
//
// Returning an error makes the call fail (status 1): an Error (or *Error) is sent to the
// client as {"code":...,"message":...}; any other error becomes code "guest_error" with
// err.Error() as message. Page-store writes of a failed call are dropped by the host.
type Handler interface {
	Load(p *Page) (html string, err error)
	RPC(p *Page, method string, params json.RawMessage) (result any, err error)
}

// EventHandler is implemented by handlers registered with FeatureEvents.
type EventHandler interface {
	Event(p *Page, ev Event) error
}

// CloseHandler is implemented by handlers registered with FeatureClose. reason is one of
// "client", "idle", "connection_expired", "shutdown".
type CloseHandler interface {
	Close(p *Page, reason string) error
}

// Features is the set of optional ABI features a handler asks for (ABI section 5).
type Features uint64

const (
	FeatureEvents Features = 1 << 0 // deliver dbevents to EventHandler.Event
	FeatureClose  Features = 1 << 1 // call CloseHandler.Close when a page goes away
	FeaturePush   Features = 1 << 2 // allow Page.Push
)

// Event is the input of an event call: dbevents on a table the page subscribed to.
type Event struct {
	Kind         string    `json:"kind"` // "dbevent"
	Table        string    `json:"table"`
	Events       []DBEvent `json:"events"`
	OriginPageID string    `json:"origin_page_id"`
}

// DBEvent is one database event, received in Event.Events or sent with Page.Publish.
// Empty fields are left out when it is encoded.
type DBEvent struct {
	Table  string          `json:"table,omitempty"`
	Action string          `json:"action,omitempty"` // "I", "U", "D", ...
	Pkey   string          `json:"pkey,omitempty"`
	Data   json.RawMessage `json:"data,omitempty"`
}

// Error is an error reply: a failed call sends {"code":Code,"message":Message} to the
// client. Code is [a-z0-9_.], at most 64 bytes.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e Error) Error() string { return e.Code + ": " + e.Message }

// UnknownMethod is the error for an RPC method the handler does not have.
func UnknownMethod(method string) error {
	return Error{Code: "unknown_method", Message: "unknown method: " + method}
}

// BadParams is the error for RPC params the handler cannot use.
func BadParams(message string) error {
	return Error{Code: "bad_params", Message: message}
}

var registered struct {
	h        Handler
	features Features
}

// Register installs the program's handler and the features it wants. Call it from init:
// a c-shared module never runs main. It panics if features name a method h lacks.
func Register(h Handler, features Features) {
	if h == nil {
		panic("gnr: Register with a nil handler")
	}
	if _, ok := h.(EventHandler); !ok && features&FeatureEvents != 0 {
		panic("gnr: FeatureEvents needs an Event method")
	}
	if _, ok := h.(CloseHandler); !ok && features&FeatureClose != 0 {
		panic("gnr: FeatureClose needs a Close method")
	}
	registered.h = h
	registered.features = features
}

// The entry points, called by the exports in host_wasip1.go.
const (
	entryLoad = iota
	entryRPC
	entryEvent
	entryClose
)

// negotiate answers gnr_features: the features both sides have.
func negotiate(host uint64) uint64 {
	return host & uint64(registered.features)
}

// run carries out one entry point and returns its status.
func run(entry int) int32 {
	h := registered.h
	if h == nil {
		return fail(errors.New("gnr: no handler registered (call gnr.Register from init)"))
	}
	in, err := readBuf(hostInput)
	if err != nil {
		return fail(err)
	}
	p := &Page{input: in}
	switch entry {
	case entryLoad:
		html, err := h.Load(p)
		if err != nil {
			return fail(err)
		}
		return reply(html)
	case entryRPC:
		method, err := readBuf(hostMethod)
		if err != nil {
			return fail(err)
		}
		result, err := h.RPC(p, string(method), json.RawMessage(in))
		if err != nil {
			return fail(err)
		}
		out, err := Marshal(result)
		if err != nil {
			return fail(err)
		}
		return reply(str(out))
	case entryEvent:
		eh, ok := h.(EventHandler)
		if !ok {
			return fail(Error{Code: "unsupported", Message: "this page handles no events"})
		}
		// A field of an unexpected type (say a numeric pkey) is left empty, not fatal.
		var ev Event
		var typeErr *json.UnmarshalTypeError
		if err := json.Unmarshal(in, &ev); err != nil && !errors.As(err, &typeErr) {
			return fail(err)
		}
		return status(eh.Event(p, ev))
	case entryClose:
		ch, ok := h.(CloseHandler)
		if !ok {
			return 0
		}
		var args struct {
			Reason string `json:"reason"`
		}
		if err := json.Unmarshal(in, &args); err != nil {
			return fail(err)
		}
		return status(ch.Close(p, args.Reason))
	}
	return fail(errors.New("gnr: unknown entry point"))
}

func status(err error) int32 {
	if err != nil {
		return fail(err)
	}
	return 0
}

// reply sets the call's output; if the host refuses it (too large), the call fails.
func reply(s string) int32 {
	if err := rc(hostReply(s)); err != nil {
		return fail(err)
	}
	return 0
}

// fail replies the error object for err and returns status 1.
func fail(err error) int32 {
	var e Error
	var pe *Error
	switch {
	case errors.As(err, &e):
	case errors.As(err, &pe) && pe != nil:
		e = *pe
	default:
		e = Error{Code: "guest_error", Message: err.Error()}
	}
	b, _ := Marshal(e) // cannot fail: two strings
	hostReply(str(b))
	return 1
}
