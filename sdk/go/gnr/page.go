package gnr

import (
	"encoding/json"
	"time"
	"unsafe"
)

// Page is the page of the current call. Its methods call the host and are valid only
// during the call that received the Page. The page's state lives in the host: keep
// nothing in globals that must survive a call.
type Page struct {
	input []byte
	query map[string]string
}

// PageInfo describes the page of the call (host function page_info).
type PageInfo struct {
	PageID       string `json:"page_id"`
	ConnectionID string `json:"connection_id"`
	User         string `json:"user"`
	Route        string `json:"route"`
	Lifecycle    string `json:"lifecycle"`
}

// LogLevel is the level of a log line.
type LogLevel int32

const (
	LogDebug LogLevel = 0
	LogInfo  LogLevel = 1
	LogWarn  LogLevel = 2
	LogError LogLevel = 3
)

// Input is the call's input JSON (ABI section 6): {"query":{...}} for Load, the params
// for RPC, the event object for Event, {"reason":...} for Close.
func (p *Page) Input() json.RawMessage { return p.input }

// Query returns a query parameter of the request that loaded the page ("" if absent).
// It is meant for Load; other entry points have no query.
func (p *Page) Query(name string) string {
	if p.query == nil {
		var in struct {
			Query map[string]string `json:"query"`
		}
		json.Unmarshal(p.input, &in)
		p.query = in.Query
		if p.query == nil {
			p.query = map[string]string{}
		}
	}
	return p.query[name]
}

// Info returns the page's ids, user, route and lifecycle.
func (p *Page) Info() (PageInfo, error) {
	var info PageInfo
	b, err := readBuf(hostPageInfo)
	if err == nil {
		err = json.Unmarshal(b, &info)
	}
	return info, err
}

// Log writes a log line; the host tags it with module, page and entry point.
func (p *Page) Log(level LogLevel, msg string) { hostLog(int32(level), msg) }

// Now is the host's wall-clock time (millisecond precision).
func Now() time.Time { return time.UnixMilli(hostNowMS()) }

// The three stores have the same shape; get/set take the host functions of one of them.

func getRaw(fn func(key string, buf *byte, cap uint32) int32, key string) (json.RawMessage, error) {
	return readBuf(func(buf *byte, cap uint32) int32 { return fn(key, buf, cap) })
}

func get(fn func(key string, buf *byte, cap uint32) int32, key string, v any) (bool, error) {
	b, err := getRaw(fn, key)
	if err == ErrNotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, json.Unmarshal(b, v)
}

func set(fn func(key, val string) int32, key string, v any) error {
	b, err := Marshal(v)
	if err != nil {
		return err
	}
	return rc(fn(key, str(b)))
}

// str views b as a string without copying, for passing to the host.
func str(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// StoreGet decodes the page store's value at key into v (with encoding/json) and
// reports whether the key was set. An unset key leaves v unchanged.
func (p *Page) StoreGet(key string, v any) (bool, error) { return get(hostStoreGet, key, v) }

// StoreGetRaw returns the page store's JSON value at key, or ErrNotFound.
func (p *Page) StoreGetRaw(key string) (json.RawMessage, error) { return getRaw(hostStoreGet, key) }

// StoreSet sets key in the page store to v encoded with Marshal. The client receives
// it as a datachange.
func (p *Page) StoreSet(key string, v any) error { return set(hostStoreSet, key, v) }

// StoreDelete removes key from the page store (no error when unset).
func (p *Page) StoreDelete(key string) error { return rc(hostStoreDelete(key)) }

// StoreKeys lists the page store's keys, sorted.
func (p *Page) StoreKeys() ([]string, error) {
	b, err := readBuf(hostStoreKeys)
	if err != nil {
		return nil, err
	}
	var keys []string
	return keys, json.Unmarshal(b, &keys)
}

// UserGet decodes the value at key of the user's register store (shared by all pages
// of the user) into v and reports whether it was set.
func (p *Page) UserGet(key string, v any) (bool, error) { return get(hostUserGet, key, v) }

// UserGetRaw returns the user's value at key, or ErrNotFound.
func (p *Page) UserGetRaw(key string) (json.RawMessage, error) { return getRaw(hostUserGet, key) }

// UserSet sets key in the user's store. Not undone if the call fails.
func (p *Page) UserSet(key string, v any) error { return set(hostUserSet, key, v) }

// GlobalGet decodes the value at key of the site's global register store into v and
// reports whether it was set.
func (p *Page) GlobalGet(key string, v any) (bool, error) { return get(hostGlobalGet, key, v) }

// GlobalGetRaw returns the global value at key, or ErrNotFound.
func (p *Page) GlobalGetRaw(key string) (json.RawMessage, error) { return getRaw(hostGlobalGet, key) }

// GlobalSet sets key in the global store. Not undone if the call fails.
func (p *Page) GlobalSet(key string, v any) error { return set(hostGlobalSet, key, v) }

// Push sends msg, encoded with Marshal, to the page's client (needs FeaturePush).
func (p *Page) Push(msg any) error {
	b, err := Marshal(msg)
	if err != nil {
		return err
	}
	return rc(hostPush(str(b)))
}

// Subscribe subscribes the page to a table ("pkg.table") so it receives its dbevents.
func (p *Page) Subscribe(table string) error { return rc(hostSubscribe(table)) }

// Unsubscribe ends a subscription.
func (p *Page) Unsubscribe(table string) error { return rc(hostUnsubscribe(table)) }

// Publish publishes a dbevent on table; ev is encoded with Marshal and is usually a
// DBEvent. Every page subscribed to the table, this one included, gets an Event call
// after this call ends.
func (p *Page) Publish(table string, ev any) error {
	b, err := Marshal(ev)
	if err != nil {
		return err
	}
	return rc(hostPublish(table, str(b)))
}
