package abi

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/gnrhost/gnrhost/abi/wasmabi"
)

// PageProtocolVersion is the version of the page-handler contract spoken over gRPC
// (go-plugin's VersionedPlugins key for page plugins). Bump it on any breaking change to
// abi/pagepb/page.proto.
const PageProtocolVersion = 1

// Entry points of a page call, as in PageCall.Entry (abi/wasm-abi.md section 2).
const (
	PageEntryLoad  = "load"
	PageEntryRPC   = "rpc"
	PageEntryEvent = "event"
	PageEntryClose = "close"
)

// Errors of the page contract beyond the registry's sentinels (ErrInvalid, ErrNotFound,
// ErrUnavailable), testable with errors.Is in-process and across gRPC.
var (
	// ErrTooLarge: a value, push, publish or reply is over a limit of the page ABI
	// (abi/wasm-abi.md section 7).
	ErrTooLarge = errors.New("page: over a limit of the page ABI")
	// ErrNotPermitted: the call used a feature that was not negotiated (a push without
	// FeaturePush).
	ErrNotPermitted = errors.New("page: feature not enabled")
)

// PageInfo describes the page of a call; the same fields as the WASM page_info function.
type PageInfo struct {
	PageID       string `json:"page_id"`
	ConnectionID string `json:"connection_id"`
	User         string `json:"user"`
	Route        string `json:"route"`
	Lifecycle    string `json:"lifecycle"`
}

// PageCall is one invocation of a page handler: the entry point with its input, the page
// it acts on and a snapshot of that page's store taken when the call started.
//
// The store travels with the call rather than being read back through PageHost because a
// page store is small (8 MiB at most) and read by almost every call: one message instead
// of a round trip per key keeps an out-of-process call close to the cost of a WASM one.
type PageCall struct {
	// Entry is PageEntryLoad, PageEntryRPC, PageEntryEvent or PageEntryClose.
	Entry string
	// Method is the RPC method name (PageEntryRPC only).
	Method string
	// Input is the call's input JSON (abi/wasm-abi.md section 6).
	Input []byte
	Page  PageInfo
	// Store is the page store at the start of the call. The handler must not modify it:
	// writes are reported in PageResult.Changes.
	Store map[string]json.RawMessage
}

// PageHost is what stays live in the host during a call: the user's and the site's
// registers and the log. Its methods are valid only until the call returns.
//
// Errors wrap ErrInvalid (bad key or value), ErrTooLarge, or ErrUnavailable (the registry
// cannot be reached; the host fails the whole call with 503 whatever the handler does).
type PageHost interface {
	// UserGet reads the page's user's register store; ok is false when key is unset.
	UserGet(ctx context.Context, key string) (value []byte, ok bool, err error)
	// UserSet writes the user's store at once (not undone if the call fails).
	UserSet(ctx context.Context, key string, value []byte) error
	// GlobalGet reads the site's global register store.
	GlobalGet(ctx context.Context, key string) (value []byte, ok bool, err error)
	// GlobalSet writes the global store at once (not undone if the call fails).
	GlobalSet(ctx context.Context, key string, value []byte) error
	// Log writes a line to the host's log, tagged with the page and route. level is
	// wasmabi.LogDebug..LogError.
	Log(ctx context.Context, level int, msg string)
}

// PageStoreChange is one page-store write made by a call, in order.
type PageStoreChange struct {
	Key    string
	Value  json.RawMessage // nil when Delete
	Delete bool
}

// PagePublish is one dbevent published by a call.
type PagePublish struct {
	Table string
	Event json.RawMessage // a JSON object {"action","pkey","data"}, all optional
}

// PageTableChange is one subscribe (or unsubscribe) made by a call.
type PageTableChange struct {
	Table     string
	Subscribe bool
}

// PageResult is what a call produced. Status is wasmabi.StatusOK or StatusError (Reply is
// then {"code","message"}); any other status is an error with code guest_status_N. When
// Status is not OK the host drops Changes, Pushes, Publishes and Tables: a failed call
// changes nothing on the page.
type PageResult struct {
	Status    int
	Reply     []byte
	Changes   []PageStoreChange
	Pushes    [][]byte
	Publishes []PagePublish
	Tables    []PageTableChange
}

// PageHandler is a page handler behind the page contract: what a native page plugin
// implements, in-process or out-of-process (abi/pagerpc).
type PageHandler interface {
	// Features returns the wasmabi feature bits the handler wants (FeatureEvents,
	// FeatureClose, FeaturePush). The host asks once and enables the intersection with
	// what it supports.
	Features(ctx context.Context) (uint64, error)
	// Call runs one entry point. An error fails the call (HTTP 500, or 503 when it wraps
	// ErrUnavailable); an error the client should see is a PageResult with StatusError.
	Call(ctx context.Context, call PageCall, host PageHost) (PageResult, error)
}

// Key and table rules of the page ABI (abi/wasm-abi.md section 3), shared by the host,
// which enforces them on whatever a plugin sends, and the plugin-side helpers, which
// check them early so an author sees the mistake where it is made.
//
// The 128-byte bound on table names is the WASM host's; wasmabi has no constant for it.
const maxPageTableBytes = 128

// ValidPageKey reports whether k is a valid store, user or global key: 1-256 bytes of
// UTF-8 without control characters.
func ValidPageKey(k string) bool {
	if len(k) == 0 || len(k) > wasmabi.MaxKeyBytes || !utf8.ValidString(k) {
		return false
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// ValidTableName reports whether t names a table as "pkg.table": ASCII letters, digits,
// '_' and '.', at most 128 bytes, with a non-empty package and table.
func ValidTableName(t string) bool {
	pkg, tbl, ok := strings.Cut(t, ".")
	if !ok || pkg == "" || tbl == "" || len(t) > maxPageTableBytes {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// IsJSONObject reports whether b is one JSON object (a publish event must be).
func IsJSONObject(b []byte) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(b, &m) == nil && m != nil
}
