package pyro

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	ogórek "github.com/kisielk/og-rek"

	"github.com/gnrhost/gnrhost/internal/testpeer"
)

const testKey = "test-hmac-key"

// site starts a daemon, opens a pool and returns a proxy on the site's SiteRegister.
func site(t testing.TB) (*testpeer.Gnrdaemon, *Pool, *Proxy) {
	t.Helper()
	d := testpeer.StartGnrdaemon(t, testKey, 0)
	pool := NewPool(d.Addr, []byte(testKey), 4)
	t.Cleanup(func() { pool.Close() })
	ctx := ctxT(t)
	res, err := pool.Call(ctx, "GnrDaemon", "getSite", []any{"mysite"}, map[string]any{"create": true})
	if err != nil {
		t.Fatalf("getSite: %v", err)
	}
	info, err := Dict(res)
	if err != nil {
		t.Fatal(err)
	}
	uri, err := ParseURI(info["register_uri"].(string))
	if err != nil {
		t.Fatal(err)
	}
	// As in gnrdaemon, the site register is served by its own daemon on another port.
	regPool := NewPool(uri.Addr, []byte(testKey), 4)
	t.Cleanup(func() { regPool.Close() })
	reg, err := regPool.Proxy(uri)
	if err != nil {
		t.Fatal(err)
	}
	return d, pool, reg
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func call(t testing.TB, p *Proxy, method string, args []any, kw map[string]any) any {
	t.Helper()
	v, err := p.Call(ctxT(t), method, args, kw)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	return v
}

func dict(t testing.TB, v any) map[string]any {
	t.Helper()
	m, err := Dict(v)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestGetSite(t *testing.T) {
	d, pool, reg := site(t)
	if reg.Object() != "SiteRegister" {
		t.Errorf("register object = %q", reg.Object())
	}
	v, err := pool.Call(ctxT(t), "GnrDaemon", "ping", nil, nil)
	if err != nil || v != "ping" {
		t.Fatalf("ping = %v, %v", v, err)
	}
	sites, err := pool.Call(ctxT(t), "GnrDaemon", "siteRegisters", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	list, ok := sites.([]any)
	if !ok || len(list) != 1 || dict(t, list[0])["sitename"] != "mysite" {
		t.Fatalf("siteRegisters = %#v", sites)
	}
	// The site register has its own daemon, on another port than the main one.
	if got, _ := dict(t, list[0])["register_port"].(int64); got == 0 || got == int64(d.Port) {
		t.Errorf("register_port = %#v, want a port of its own (main daemon on %d)", got, d.Port)
	}
}

func TestItemRoundTrip(t *testing.T) {
	_, _, reg := site(t)
	call(t, reg, "new_connection", []any{"conn1"}, map[string]any{
		"connection_name": "main", "user": "zoë", "user_id": "u-1", "user_name": "Zoë ✓",
		"user_tags": "admin,user", "user_ip": "127.0.0.1", "user_agent": "Go test",
		"browser_name": "chrome", "avatar_extra": map[string]any{"x": int64(1)}, "electron_static": true,
	})
	ts := time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.Local)
	data := map[string]any{
		"i": int64(-42), "big": int64(1) << 40, "f": 1.5, "s": "ünïcode", "b": false, "n": nil,
		"l": []any{int64(1), "two", 3.0}, "t": ogórek.Tuple{"a", int64(2)}, "ts": ts,
		"bytes": ogórek.Bytes("\x00\xff"), "nested": map[string]any{"k": []any{}},
	}
	call(t, reg, "new_page", []any{"page1"}, map[string]any{
		"pagename": "index", "connection_id": "conn1",
		"user": "zoë", "user_ip": "127.0.0.1", "user_agent": "Go test", "relative_url": "/index", "data": data,
	})
	call(t, reg, "subscribeTable", []any{"page1", "todo.item", true}, nil)
	call(t, reg, "subscribeTable", []any{"page1", "todo.list", true}, nil)
	before := time.Now().Add(-time.Minute)

	page := dict(t, call(t, reg, "get_item", []any{"page1"}, map[string]any{"include_data": true, "register_name": "page"}))
	want := map[string]any{"register_item_id": "page1", "pagename": "index", "connection_id": "conn1",
		"user": "zoë", "relative_url": "/index", "register_name": "page", "datachanges_idx": int64(0),
		"last_user_ts": nil}
	for k, w := range want {
		if page[k] != w {
			t.Errorf("page[%q] = %#v, want %#v", k, page[k], w)
		}
	}
	if st, ok := page["start_ts"].(time.Time); !ok || st.Before(before) {
		t.Errorf("start_ts = %#v", page["start_ts"])
	}
	if tables, _ := page["subscribed_tables"].([]any); len(tables) != 2 || tables[1] != "todo.list" {
		t.Errorf("subscribed_tables = %#v", page["subscribed_tables"])
	}
	if sp, ok := page["subscribed_paths"].(Set); !ok || len(sp) != 0 {
		t.Errorf("subscribed_paths = %#v", page["subscribed_paths"])
	}
	if dcs, ok := page["datachanges"].([]any); !ok || len(dcs) != 0 {
		t.Errorf("datachanges = %#v", page["datachanges"])
	}
	bag, err := DecodeBag(page["data"])
	if err != nil {
		t.Fatalf("data: %v", err)
	}
	got := bag.Flatten()
	for k, w := range data {
		switch k {
		case "l", "nested", "t":
			continue
		case "ts":
			if gt, ok := got[k].(time.Time); !ok || !gt.Equal(ts) {
				t.Errorf("data[ts] = %#v, want %v", got[k], ts)
			}
			continue
		}
		if got[k] != w {
			t.Errorf("data[%q] = %#v, want %#v", k, got[k], w)
		}
	}
	if l, _ := got["l"].([]any); len(l) != 3 || l[1] != "two" || l[2] != 3.0 {
		t.Errorf("data[l] = %#v", got["l"])
	}
	if tu, _ := got["t"].(ogórek.Tuple); len(tu) != 2 || tu[1] != int64(2) {
		t.Errorf("data[t] = %#v", got["t"])
	}

	conn := dict(t, call(t, reg, "connection", []any{"conn1"}, nil))
	if conn["user_name"] != "Zoë ✓" || conn["electron_static"] != true || conn["register_name"] != "connection" {
		t.Errorf("connection = %#v", conn)
	}
	user := dict(t, call(t, reg, "get_item", []any{"zoë"}, map[string]any{"register_name": "user"}))
	if user["user_id"] != "u-1" || dict(t, user["avatar_extra"])["x"] != int64(1) {
		t.Errorf("user = %#v", user)
	}
	glob := dict(t, call(t, reg, "get_item", []any{"*"}, map[string]any{"register_name": "global"}))
	if glob["register_item_id"] != "*" {
		t.Errorf("global item = %#v", glob)
	}
	if ok := call(t, reg, "exists", []any{"page1"}, map[string]any{"register_name": "page"}); ok != true {
		t.Errorf("exists(page1) = %#v", ok)
	}
	if v := call(t, reg, "get_item", []any{"nope"}, map[string]any{"register_name": "page"}); v != nil {
		t.Errorf("get_item(missing) = %#v, want nil (None)", v)
	}
	counters := dict(t, call(t, reg, "counters", nil, nil))
	if counters["pages"] != int64(1) || counters["connections"] != int64(1) || counters["users"] != int64(1) {
		t.Errorf("counters = %#v", counters)
	}
	// A Go time.Time travels as a Python datetime and comes back equal.
	rts := time.Date(2030, 1, 2, 3, 4, 5, 6000, time.Local)
	call(t, reg, "refresh", []any{"page1"}, map[string]any{"last_user_ts": rts})
	page = dict(t, call(t, reg, "page", []any{"page1"}, nil))
	if lu, ok := page["last_user_ts"].(time.Time); !ok || !lu.Equal(rts) {
		t.Errorf("last_user_ts = %#v, want %v", page["last_user_ts"], rts)
	}
	if lk := call(t, reg, "lock_item", []any{"page1", "me"}, map[string]any{"register_name": "page"}); lk != true {
		t.Errorf("lock_item = %#v", lk)
	}
	if lk := call(t, reg, "lock_item", []any{"page1", "other"}, map[string]any{"register_name": "page"}); lk != false {
		t.Errorf("lock_item by other = %#v", lk)
	}
	call(t, reg, "drop_page", []any{"page1", true}, nil)
	if keys := call(t, reg, "keys", nil, map[string]any{"register_name": "connection"}); len(keys.([]any)) != 0 {
		t.Errorf("connections after cascading drop_page = %#v", keys)
	}
}

func TestDatachanges(t *testing.T) {
	_, _, reg := site(t)
	call(t, reg, "new_connection", []any{"c"}, map[string]any{"user": "u"})
	call(t, reg, "new_page", []any{"p"}, map[string]any{"connection_id": "c", "user": "u"})
	pg := map[string]any{"register_name": "page"}
	call(t, reg, "set_datachange", []any{"p", "a.b", map[string]any{"v": int64(1)}}, map[string]any{
		"register_name": "page", "attributes": map[string]any{"k": "v"}, "reason": "test", "fired": true})
	call(t, reg, "set_datachange", []any{"p", "a.c", "x"}, map[string]any{"register_name": "page", "delete": true})
	list, ok := call(t, reg, "get_datachanges", []any{"p"}, map[string]any{"register_name": "page", "reset": true}).([]any)
	if !ok || len(list) != 2 {
		t.Fatalf("get_datachanges = %#v", list)
	}
	obj := list[0].(*Object)
	if obj.Class != (ogórek.Class{Module: "gnr.web.gnrwebpage", Name: "ClientDataChange"}) {
		t.Errorf("class = %#v", obj.Class)
	}
	dc, err := DecodeClientDataChange(list[0])
	if err != nil {
		t.Fatal(err)
	}
	if dc.Path != "a.b" || dc.Reason != "test" || !dc.Fired || dc.Delete || dc.ChangeIdx != 1 ||
		dc.Attributes["k"] != "v" || dict(t, dc.Value)["v"] != int64(1) || time.Since(dc.ChangeTS) > time.Minute {
		t.Errorf("datachange 0 = %+v", dc)
	}
	dc2, err := DecodeClientDataChange(list[1])
	if err != nil || dc2.Path != "a.c" || !dc2.Delete || dc2.ChangeIdx != 2 || dc2.Value != "x" {
		t.Errorf("datachange 1 = %+v, %v", dc2, err)
	}
	if rest := call(t, reg, "get_datachanges", []any{"p"}, pg); len(rest.([]any)) != 0 {
		t.Errorf("after reset: %#v", rest)
	}
}

func TestNotifyDbEvents(t *testing.T) {
	_, _, reg := site(t)
	call(t, reg, "new_connection", []any{"c"}, map[string]any{"user": "u"})
	call(t, reg, "new_page", []any{"sub"}, map[string]any{"connection_id": "c", "user": "u"})
	call(t, reg, "new_page", []any{"other"}, map[string]any{"connection_id": "c", "user": "u"})
	call(t, reg, "subscribeTable", []any{"sub", "todo.item", true, nil}, nil)
	events := []any{map[string]any{"dbevent": "I", "pkey": "1"}}
	call(t, reg, "notifyDbEvents", []any{map[string]any{"todo.item": events}, "other", "insert"}, map[string]any{"register_name": "page"})

	got := call(t, reg, "get_datachanges", []any{"sub"}, map[string]any{"register_name": "page"}).([]any)
	if len(got) != 1 {
		t.Fatalf("subscribed page got %d changes", len(got))
	}
	dc, err := DecodeClientDataChange(got[0])
	if err != nil {
		t.Fatal(err)
	}
	if dc.Path != "gnr.dbchanges.todo_item" || dc.Attributes["from_page_id"] != "other" ||
		dc.Attributes["dbevent_reason"] != "insert" {
		t.Errorf("dbchange = %+v", dc)
	}
	if ev, _ := dc.Value.([]any); len(ev) != 1 || dict(t, ev[0])["pkey"] != "1" {
		t.Errorf("dbchange value = %#v", dc.Value)
	}
	if other := call(t, reg, "get_datachanges", []any{"other"}, map[string]any{"register_name": "page"}); len(other.([]any)) != 0 {
		t.Errorf("unsubscribed page got %#v", other)
	}
}

func TestRemoteException(t *testing.T) {
	_, pool, reg := site(t)
	call(t, reg, "new_connection", []any{"c"}, map[string]any{"user": "u"})
	_, err := reg.Call(ctxT(t), "new_connection", []any{"c"}, map[string]any{"user": "u"})
	var re *RemoteError
	if !errors.As(err, &re) {
		t.Fatalf("duplicate new_connection: err = %v, want a RemoteError", err)
	}
	if re.Type() != "AssertionError" || !strings.Contains(re.Message(), "already registered") ||
		!strings.Contains(re.Traceback, "Traceback") {
		t.Errorf("remote error = %q / %q / traceback %q", re.Type(), re.Message(), re.Traceback)
	}
	// The connection is still in sync after an exception.
	if v := call(t, reg, "exists", []any{"c"}, map[string]any{"register_name": "connection"}); v != true {
		t.Errorf("exists after exception = %#v", v)
	}
	_, err = pool.Call(ctxT(t), "NoSuchObject", "ping", nil, nil)
	if !errors.As(err, &re) || re.Type() != "Pyro4.errors.DaemonError" {
		t.Errorf("unknown object: err = %v", err)
	}
	_, err = reg.Call(ctxT(t), "get_item", []any{"c"}, map[string]any{"register_name": "nope"})
	if !errors.As(err, &re) || re.Name != "GnrDaemonException" {
		t.Errorf("bad register_name: err = %v", err)
	}
}

func TestWrongHMAC(t *testing.T) {
	d := testpeer.StartGnrdaemon(t, testKey, 0)
	for name, key := range map[string]string{"wrong key": "not-the-key", "no key": ""} {
		start := time.Now()
		_, err := Dial(ctxT(t), d.Addr, []byte(key))
		if !errors.Is(err, ErrHMACMismatch) || !strings.Contains(err.Error(), "hmac mismatch: check the key") {
			t.Errorf("%s: err = %v, want ErrHMACMismatch", name, err)
		}
		if el := time.Since(start); el > 2*time.Second {
			t.Errorf("%s: took %s", name, el)
		}
	}
	pool := NewPool(d.Addr, []byte("bad"), 2)
	defer pool.Close()
	if _, err := pool.Call(ctxT(t), "GnrDaemon", "ping", nil, nil); !errors.Is(err, ErrHMACMismatch) {
		t.Errorf("pool with bad key: %v", err)
	}
}

func TestDaemonRestart(t *testing.T) {
	d := testpeer.StartGnrdaemon(t, testKey, 0)
	pool := NewPool(d.Addr, []byte(testKey), 2)
	defer pool.Close()
	ping := func() error {
		_, err := pool.Call(ctxT(t), "GnrDaemon", "ping", nil, nil)
		return err
	}
	if err := ping(); err != nil {
		t.Fatal(err)
	}
	d.Kill()
	start := time.Now()
	err := ping()
	if err == nil || !errors.Is(err, ErrUnavailable) {
		t.Errorf("call with daemon down: err = %v, want ErrUnavailable", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("call with daemon down took %s", el)
	}
	testpeer.StartGnrdaemon(t, testKey, d.Port)
	if err := ping(); err != nil {
		t.Fatalf("after restart on the same port: %v", err)
	}
}

// A daemon whose connection dies while idle (restart between calls) is noticed before
// the next call goes out, without an error for that call.
func TestIdleConnReplacedAfterRestart(t *testing.T) {
	d := testpeer.StartGnrdaemon(t, testKey, 0)
	pool := NewPool(d.Addr, []byte(testKey), 1)
	defer pool.Close()
	if _, err := pool.Call(ctxT(t), "GnrDaemon", "ping", nil, nil); err != nil {
		t.Fatal(err)
	}
	d.Kill()
	testpeer.StartGnrdaemon(t, testKey, d.Port)
	if _, err := pool.Call(ctxT(t), "GnrDaemon", "ping", nil, nil); err != nil {
		t.Fatalf("first call after restart: %v", err)
	}
}

func BenchmarkGetItem(b *testing.B) {
	_, _, reg := site(b)
	call(b, reg, "new_connection", []any{"c"}, map[string]any{"user": "u"})
	call(b, reg, "new_page", []any{"p"}, map[string]any{"connection_id": "c", "user": "u", "pagename": "index"})
	ctx := context.Background()
	kw := map[string]any{"register_name": "page"}
	b.ResetTimer()
	for b.Loop() {
		if _, err := reg.Call(ctx, "get_item", []any{"p"}, kw); err != nil {
			b.Fatal(err)
		}
	}
}

// Many calls on one connection, of sizes around and past the read buffer, all pass the
// daemon's HMAC check (it refuses a bad one) and come back intact: the kept HMAC state and
// buffers carry nothing from one message into the next.
func TestManyCallsOneConn(t *testing.T) {
	_, _, reg := site(t)
	call(t, reg, "new_connection", []any{"c"}, map[string]any{"user": "u"})
	for i, n := range []int{0, 100, initialBufSize - 200, initialBufSize, 5 * initialBufSize, 200000, 3, 100} {
		name := strings.Repeat("n", n)
		call(t, reg, "update_item", []any{"c", map[string]any{"connection_name": name}}, map[string]any{"register_name": "connection"})
		got := dict(t, call(t, reg, "get_item", []any{"c"}, map[string]any{"register_name": "connection"}))
		if got["connection_name"] != name {
			t.Fatalf("call %d (%d bytes): connection_name has %d bytes", i, n, len(got["connection_name"].(string)))
		}
	}
}

// The liveness probe and the calls that skip it: a daemon that closed an idle connection
// between calls is noticed before a plain call (which then goes out on a new connection),
// while a Retried call on a connection used moments ago goes out without the probe and
// fails with ErrConnectionBroken, for its caller to repeat.
func TestProbeSkippedOnlyForRetriedCalls(t *testing.T) {
	d := testpeer.StartGnrdaemon(t, testKey, 0)
	f := testpeer.StartForwarder(t, d.Addr)
	pool := NewPool(f.Addr, []byte(testKey), 1)
	defer pool.Close()
	x := &Proxy{pool: pool, object: "GnrDaemon"}
	if _, err := x.Call(ctxT(t), "ping", nil, nil); err != nil {
		t.Fatal(err)
	}
	f.Cut()
	waitIdleClosed(t, pool)
	if v, err := x.Call(ctxT(t), "ping", nil, nil); err != nil || v != "ping" {
		t.Fatalf("plain call after the peer closed the idle connection = %v, %v", v, err)
	}
	f.Cut()
	if _, err := x.CallRetried(ctxT(t), "ping", nil, nil); !errors.Is(err, ErrConnectionBroken) {
		t.Fatalf("retried call on the closed connection: err = %v, want ErrConnectionBroken", err)
	}
	// The broken connection left the pool: the repeat dials a new one.
	if v, err := x.CallRetried(ctxT(t), "ping", nil, nil); err != nil || v != "ping" {
		t.Fatalf("repeated call = %v, %v", v, err)
	}
	f.Cut()
	if _, err := x.BatchRetried(ctxT(t), []BatchCall{{Method: "ping"}}); !errors.Is(err, ErrConnectionBroken) {
		t.Fatalf("retried batch on the closed connection: err = %v, want ErrConnectionBroken", err)
	}
}

// waitIdleClosed waits until the pool's idle connection has the peer's FIN: a close
// on loopback usually delivers it at once, but a loaded machine can defer it, and a
// probe made before it arrives rightly finds the connection open.
func waitIdleClosed(t *testing.T, pool *Pool) {
	t.Helper()
	pool.mu.Lock()
	if len(pool.idle) != 1 {
		pool.mu.Unlock()
		t.Fatalf("%d idle connections, want 1", len(pool.idle))
	}
	nc := pool.idle[0].nc
	pool.mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for peekClosed(nc) == nil {
		if time.Now().After(deadline) {
			t.Fatal("the client never saw the forwarder close the connection")
		}
		time.Sleep(time.Millisecond)
	}
}
