package wasm

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/gnrhost/gnrhost/abi/wasmabi"
)

// Entry is an entry point of a page module.
type Entry int

const (
	EntryLoad Entry = iota
	EntryRPC
	EntryEvent
	EntryClose
)

func (e Entry) String() string {
	switch e {
	case EntryLoad:
		return "load"
	case EntryRPC:
		return "rpc"
	case EntryEvent:
		return "event"
	case EntryClose:
		return "close"
	}
	return fmt.Sprintf("entry(%d)", int(e))
}

// Host is what a call may read and change outside the module: the page's store (read
// only here; writes are collected in Result), its user's and the site's registers, and
// the log. Package pages implements it per call.
type Host interface {
	PageInfo() []byte
	StoreGet(key string) ([]byte, bool)
	StoreKeys() []string
	// StoreBytes is the current size of the page store, for the total-size limit.
	StoreBytes() int
	UserGet(ctx context.Context, key string) ([]byte, bool, error)
	UserSet(ctx context.Context, key string, value []byte) error
	GlobalGet(ctx context.Context, key string) ([]byte, bool, error)
	GlobalSet(ctx context.Context, key string, value []byte) error
	Log(level int, msg string)
}

// Call is one invocation of an entry point.
type Call struct {
	Entry  Entry
	Method string // EntryRPC only
	Input  []byte // JSON, see abi/wasm-abi.md section 6
	Host   Host
}

// StoreChange is one page-store write made by a call, in order.
type StoreChange struct {
	Key    string
	Value  []byte // nil when Delete
	Delete bool
}

// Publish is one dbevent published by a call.
type Publish struct {
	Table string
	Event []byte // JSON object
}

// TableChange is one subscribe/unsubscribe made by a call.
type TableChange struct {
	Table     string
	Subscribe bool
}

// Result is what a call produced. Status is 0 (ok) or 1 (the reply is an error object).
type Result struct {
	Status    int
	Reply     []byte
	Changes   []StoreChange
	Pushes    [][]byte
	Publishes []Publish
	Tables    []TableChange
}

// CallError is a call that failed in the runtime (not an error the guest chose to return).
type CallError struct {
	Kind   ErrorKind
	Module string
	Entry  Entry
	Err    error
}

// ErrorKind classifies runtime failures; the HTTP layer maps them to status codes.
type ErrorKind int

const (
	// KindTrap: the guest trapped (unreachable, bad memory access, panic, proc_exit). 500.
	KindTrap ErrorKind = iota
	// KindTimeout: the call ran past its deadline and was stopped. 504.
	KindTimeout
	// KindMemory: the guest hit its memory limit. 500.
	KindMemory
	// KindBusy: no instance became free before the call's context ended. 503.
	KindBusy
	// KindClosed: the module was closed (its plugin set is being replaced). 503.
	KindClosed
	// KindUnavailable: a host function could not reach the registry. 503.
	KindUnavailable
)

func (k ErrorKind) String() string {
	return [...]string{"trap", "timeout", "memory limit", "busy", "closed", "unavailable"}[k]
}

func (e *CallError) Error() string {
	return fmt.Sprintf("wasm module %s, entry %s: %s: %v", e.Module, e.Entry, e.Kind, e.Err)
}

func (e *CallError) Unwrap() error { return e.Err }

// ErrModuleClosed is returned by calls on a closed module.
var ErrModuleClosed = errors.New("wasm: module closed")

// callState is the per-call bookkeeping the host functions work on. Each instance owns
// one, reused by every call it runs (one at a time).
type callState struct {
	ctx      context.Context // the instance's callCtx
	call     *Call
	features uint64
	// shared: an event entry of a SHARED_EVENTS module, which may not use what differs
	// between pages (pageSpecific in hostfuncs.go).
	shared   bool
	reply    []byte
	replySet bool
	badReply bool

	pending      map[string][]byte // key -> value; nil value with deleted[key] = removed
	deleted      map[string]bool
	pendingBytes int
	result       Result
	hostErr      error // a registry failure seen by a host function
}

// reset prepares st for a new call; the maps are kept (emptied) for the next call.
func (st *callState) reset(ctx context.Context, call *Call, features uint64) {
	*st = callState{ctx: ctx, call: call, features: features, pending: st.pending, deleted: st.deleted,
		shared: call.Entry == EntryEvent && features&wasmabi.FeatureSharedEvents != 0}
}

// release drops what the finished call referenced, so an idle instance keeps no page
// data alive.
func (st *callState) release() {
	pending, deleted := st.pending, st.deleted
	// Emptying a map costs its size: a call that wrote many keys does not make every later
	// call pay for them.
	if len(pending) > maxKeptKeys {
		pending = nil
	}
	if len(deleted) > maxKeptKeys {
		deleted = nil
	}
	clear(pending)
	clear(deleted)
	*st = callState{pending: pending, deleted: deleted}
}

// maxKeptKeys bounds the store-write maps an instance keeps between calls.
const maxKeptKeys = 64

// callCtx is the context.Context of every call on one instance, made once with it.
// wazero hands it to the host functions, which find the call's state in it without a
// lookup, and watches its Done channel: the instance's kill channel (watchdog.go).
// wazero's watcher goroutine may read it after the call returned, so everything it
// reads is either fixed for the instance's life or behind the watch's lock.
type callCtx struct{ inst *instance }

// Deadline is the running call's: its timeout, or its caller's deadline when sooner.
func (c *callCtx) Deadline() (time.Time, bool) {
	w := &c.inst.watch
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.deadline, w.parent != nil
}

// Done is closed when the watchdog stops the call (deadline, or the caller gave up).
func (c *callCtx) Done() <-chan struct{} { return c.inst.watch.kill }

func (c *callCtx) Err() error { return c.inst.watch.err() }

// Value answers from the running call's caller context.
func (c *callCtx) Value(key any) any {
	w := &c.inst.watch
	w.mu.Lock()
	parent := w.parent
	w.mu.Unlock()
	if parent == nil {
		return nil
	}
	return parent.Value(key)
}

// stateFrom finds the running call's state; nil outside an entry point (_initialize,
// gnr_features), where there is no page to act on.
func stateFrom(ctx context.Context) *callState {
	c, ok := ctx.(*callCtx)
	if !ok || c.inst.state.call == nil {
		return nil
	}
	return &c.inst.state
}

func (st *callState) storeGet(key string) ([]byte, bool) {
	if st.deleted[key] {
		return nil, false
	}
	if v, ok := st.pending[key]; ok {
		return v, true
	}
	return st.call.Host.StoreGet(key)
}

func (st *callState) storeKeys() []string {
	set := map[string]bool{}
	for _, k := range st.call.Host.StoreKeys() {
		set[k] = true
	}
	for k := range st.pending {
		set[k] = true
	}
	for k := range st.deleted {
		delete(set, k)
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (st *callState) storeSet(key string, value []byte) {
	if st.pending == nil {
		st.pending = map[string][]byte{}
	}
	old, had := st.storeGet(key)
	if had {
		st.pendingBytes -= len(key) + len(old)
	}
	st.pendingBytes += len(key) + len(value)
	st.pending[key] = value
	delete(st.deleted, key)
	st.result.Changes = append(st.result.Changes, StoreChange{Key: key, Value: value})
}

func (st *callState) storeDelete(key string) {
	old, had := st.storeGet(key)
	if !had {
		return
	}
	st.pendingBytes -= len(key) + len(old)
	if st.deleted == nil {
		st.deleted = map[string]bool{}
	}
	st.deleted[key] = true
	delete(st.pending, key)
	st.result.Changes = append(st.result.Changes, StoreChange{Key: key, Delete: true})
}
