package abi

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// RegistryProtocolVersion is the version of the Registry contract spoken over gRPC
// (go-plugin's VersionedPlugins key). Bump it on any breaking change to registry.proto.
const RegistryProtocolVersion = 1

// RegisterName names one of the four registers of a site, as in gnrdaemon's SiteRegister.
type RegisterName string

const (
	RegisterGlobal     RegisterName = "global"
	RegisterUser       RegisterName = "user"
	RegisterConnection RegisterName = "connection"
	RegisterPage       RegisterName = "page"
)

// GlobalItemID is the id of the single item of the global register (gnrdaemon uses '*').
const GlobalItemID = "*"

// Valid reports whether r is one of the four registers.
func (r RegisterName) Valid() bool {
	switch r {
	case RegisterGlobal, RegisterUser, RegisterConnection, RegisterPage:
		return true
	}
	return false
}

// Errors every backend returns (wrapped or not) so callers can test with errors.Is,
// in-process and across gRPC alike.
var (
	// ErrNotFound: the item does not exist (never added, dropped or expired).
	ErrNotFound = errors.New("registry: item not found")
	// ErrInvalid: the request is malformed (unknown register, empty id, bad path).
	ErrInvalid = errors.New("registry: invalid argument")
	// ErrLockHeld: UnlockItem was called with a reason that does not hold the lock.
	ErrLockHeld = errors.New("registry: lock held by another owner")
	// ErrUnavailable: the backend cannot be reached (a plugin process that is down,
	// a daemon that does not answer). Callers answer 503.
	ErrUnavailable = errors.New("registry: backend unavailable")
)

// ItemRef names one item.
type ItemRef struct {
	Register RegisterName
	ID       string
}

// Item is one register entry: its identity fields, timestamps and (when asked for) its data
// store. Which identity fields apply depends on the register, as in gnrdaemon:
//   - user: User, UserID, UserName, UserTags
//   - connection: User..., ConnectionName, UserIP, UserAgent, BrowserName
//   - page: User, ConnectionID, PageName, RelativeURL, UserIP, UserAgent, SubscribedTables
//   - global: only ID (always GlobalItemID)
type Item struct {
	Register RegisterName
	ID       string

	User           string
	UserID         string
	UserName       string
	UserTags       string
	ConnectionID   string
	ConnectionName string
	PageName       string
	RelativeURL    string
	UserIP         string
	UserAgent      string
	BrowserName    string
	// Guest marks a connection without a logged-in user; it expires sooner.
	Guest bool
	// SubscribedTables of a page, e.g. "todo.item". Kept in subscription order, no duplicates.
	SubscribedTables []string

	StartTS       time.Time
	LastUserTS    time.Time
	LastRPCTS     time.Time
	LastRefreshTS time.Time

	// Data is the item's store: path -> JSON value. Filled only when asked for
	// (GetItem with includeData); AddItem stores it as the initial store when non-nil.
	Data map[string]json.RawMessage
}

// Datachange is one pending change for a client, as gnrdaemon's ClientDataChange.
type Datachange struct {
	Path       string
	Value      json.RawMessage
	Attributes map[string]string
	Reason     string
	Fired      bool
	Delete     bool
	// ChangeTS and ChangeIdx are set by the registry when the change is appended;
	// ChangeIdx grows by one per item.
	ChangeTS  time.Time
	ChangeIdx int64
}

// ItemFilter selects items in Items. Empty fields match everything.
type ItemFilter struct {
	User         string // items of this user
	ConnectionID string // pages of this connection
}

// RefreshKind says which timestamp Touch updates.
type RefreshKind int

const (
	// RefreshPing: the client is alive (last_refresh_ts). Keeps the item from expiring.
	RefreshPing RefreshKind = iota
	// RefreshUser: user activity (last_user_ts and last_refresh_ts).
	RefreshUser
	// RefreshRPC: an RPC ran (last_rpc_ts and last_refresh_ts).
	RefreshRPC
)

// DbEvent is one change to a table (insert, update, delete of a record).
// Its JSON form (the list NotifyDbEvents stores at DbChangesPath) uses the tags below.
type DbEvent struct {
	Table  string          `json:"table"`          // "pkg.table", e.g. "todo.item"
	Action string          `json:"action"`         // "I", "U", "D" as in Genropy, or free text
	PKey   string          `json:"pkey,omitempty"` // primary key of the record, when known
	Data   json.RawMessage `json:"data,omitempty"` // optional record data
}

// DbEventNotice tells watchers that NotifyDbEvents delivered a table change to pages.
type DbEventNotice struct {
	Table        string
	Events       []DbEvent
	OriginPageID string
	Reason       string
	// PageIDs are the pages subscribed to Table that received the datachange.
	PageIDs []string
}

// Expired lists what one Sweep removed.
type Expired struct {
	Pages       []string
	Connections []string
	Users       []string
}

// Counters are the sizes of the registers.
type Counters struct {
	Users       int
	Connections int
	Pages       int
}

// Registry is the contract of a site's registers, modeled on gnrdaemon's SiteRegister.
// Implementations are safe for concurrent use. Every method honours ctx; an implementation
// that cannot reach its backend returns an error wrapping ErrUnavailable.
type Registry interface {
	// Ping checks that the backend answers.
	Ping(ctx context.Context) error

	// AddItem creates or replaces an item (new_user / new_connection / new_page). Replacing
	// keeps the item's store, datachanges and subscriptions unless item.Data is non-nil.
	// A page needs an existing connection, unless ConnectionID is empty.
	// The global item always exists and cannot be added.
	AddItem(ctx context.Context, item Item) error
	// GetItem returns one item; Data is filled only with includeData.
	GetItem(ctx context.Context, ref ItemRef, includeData bool) (Item, error)
	// Exists reports whether the item exists.
	Exists(ctx context.Context, ref ItemRef) (bool, error)
	// Keys lists the ids of a register, sorted.
	Keys(ctx context.Context, register RegisterName) ([]string, error)
	// Items lists the items of a register that match filter, sorted by id, without data.
	Items(ctx context.Context, register RegisterName, filter ItemFilter) ([]Item, error)
	// DropItem removes an item. With cascade, dropping a user drops its connections and
	// their pages, dropping a connection drops its pages. Dropping a missing item is ErrNotFound.
	DropItem(ctx context.Context, ref ItemRef, cascade bool) error
	// Touch updates an item's activity timestamps to now; see RefreshKind.
	Touch(ctx context.Context, ref ItemRef, kind RefreshKind) error

	// GetData returns the value at path in the item's store; ok is false when unset.
	GetData(ctx context.Context, ref ItemRef, path string) (value json.RawMessage, ok bool, err error)
	// SetData sets path to value (valid JSON) in the item's store.
	SetData(ctx context.Context, ref ItemRef, path string, value json.RawMessage) error
	// DeleteData removes path from the store; deleting an unset path is not an error.
	DeleteData(ctx context.Context, ref ItemRef, path string) error
	// DataKeys lists the paths set in the item's store, sorted.
	DataKeys(ctx context.Context, ref ItemRef) ([]string, error)
	// GetStore returns a copy of the whole store.
	GetStore(ctx context.Context, ref ItemRef) (map[string]json.RawMessage, error)
	// ReplaceStore replaces the whole store (an ephemeral page saving its state).
	ReplaceStore(ctx context.Context, ref ItemRef, store map[string]json.RawMessage) error

	// AppendDatachange appends a change to the item's pending datachanges and returns its
	// ChangeIdx. Paths the item subscribed with SubscribePath are not filtered here.
	AppendDatachange(ctx context.Context, ref ItemRef, change Datachange) (int64, error)
	// Datachanges returns the pending datachanges in append order; with reset they are
	// removed (get_datachanges(reset=True)).
	Datachanges(ctx context.Context, ref ItemRef, reset bool) ([]Datachange, error)
	// DropDatachanges removes pending datachanges at path and below it ("" drops all).
	DropDatachanges(ctx context.Context, ref ItemRef, path string) error

	// SubscribePath turns a store-path subscription of an item on or off
	// (setStoreSubscription / subscribe_path).
	SubscribePath(ctx context.Context, ref ItemRef, path string, active bool) error
	// SubscribedPaths lists the active path subscriptions of an item, sorted.
	SubscribedPaths(ctx context.Context, ref ItemRef) ([]string, error)
	// SubscribeTable adds or removes a table in a page's subscribed tables (subscribeTable).
	SubscribeTable(ctx context.Context, pageID, table string, subscribe bool) error
	// SubscribedPages lists the pages subscribed to table, sorted.
	SubscribedPages(ctx context.Context, table string) ([]string, error)
	// NotifyDbEvents delivers table changes as notifyDbEvents does: for each table, every
	// page subscribed to it gets a datachange at "gnr.dbchanges.<pkg_table>" (the table
	// name with '.' replaced by '_') whose Value is the JSON list of that table's events and
	// whose Attributes carry from_page_id and dbevent_reason. Watchers get one notice per
	// table. It returns the notices it sent.
	NotifyDbEvents(ctx context.Context, events []DbEvent, originPageID, reason string) ([]DbEventNotice, error)
	// WatchDbEvents returns a channel of the notices NotifyDbEvents sends from now on, by any
	// caller. The channel is closed when ctx ends or the backend closes. A watcher that does
	// not keep up loses notices (bounded buffer) rather than stalling NotifyDbEvents.
	WatchDbEvents(ctx context.Context) (<-chan DbEventNotice, error)

	// LockItem takes the item's lock for owner reason; it returns false when another reason
	// holds it. A lock expires after ttl (ttl <= 0 means the backend's default, 10 s as in
	// gnrdaemon). Taking a lock already held by the same reason renews it.
	LockItem(ctx context.Context, ref ItemRef, reason string, ttl time.Duration) (bool, error)
	// UnlockItem releases the lock held by reason; ErrLockHeld if another reason holds it.
	// Unlocking an unlocked item is not an error.
	UnlockItem(ctx context.Context, ref ItemRef, reason string) error

	// Sweep removes the items whose last refresh is older than their register's max age at
	// time now (page 600 s, guest connection 40 s, connection 7200 s by default; users go
	// when they have no connection left), cascading to pages of expired connections.
	// now is a parameter so the expiry rule can be tested without waiting.
	Sweep(ctx context.Context, now time.Time) (Expired, error)
	// Counters returns the sizes of the registers.
	Counters(ctx context.Context) (Counters, error)

	// Close releases the backend's resources. Calls after Close (a second Close
	// included) fail with an error wrapping ErrUnavailable.
	Close() error
}

// DbChangesPath is the store path where NotifyDbEvents puts a table's changes.
func DbChangesPath(table string) string {
	b := []byte(table)
	for i, c := range b {
		if c == '.' {
			b[i] = '_'
		}
	}
	return "gnr.dbchanges." + string(b)
}
