package ipc_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"reflect"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/host/ipc"
	"github.com/gnrhost/gnrhost/host/metrics"
	"github.com/gnrhost/gnrhost/internal/testpeer"
	registrymem "github.com/gnrhost/gnrhost/plugins/registry-mem"
)

var globalRef = abi.ItemRef{Register: abi.RegisterGlobal, ID: abi.GlobalItemID}

// process is one host process as far as ipc goes: its own registry-mem, wrapped.
type process struct {
	bus     *ipc.Bus
	reg     *ipc.Registry
	metrics *metrics.Metrics
}

func startProcess(t testing.TB, url, label string) *process {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m := metrics.New()
	bus, err := ipc.Connect(ctx, ipc.Config{URL: url, Site: "ipc-test", Process: label, Logger: slog.New(slog.DiscardHandler), Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	inner := registrymem.New(registrymem.Config{}, nil)
	p := &process{bus: bus, reg: ipc.NewRegistry(inner, bus), metrics: m}
	if err := bus.OnDbEvents(func(msg ipc.DbEventsMessage) { _ = p.reg.DeliverRemote(context.Background(), msg) }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := bus.Close(ctx); err != nil {
			t.Errorf("close bus: %v", err)
		}
		_ = inner.Close()
	})
	return p
}

// subscribedPage adds a connection and a page subscribed to table.
func subscribedPage(t testing.TB, reg abi.Registry, id, table string) {
	t.Helper()
	ctx := context.Background()
	if err := reg.AddItem(ctx, abi.Item{Register: abi.RegisterConnection, ID: "c-" + id, User: "u-" + id}); err != nil {
		t.Fatal(err)
	}
	if err := reg.AddItem(ctx, abi.Item{Register: abi.RegisterPage, ID: id, ConnectionID: "c-" + id, PageName: "/todo"}); err != nil {
		t.Fatal(err)
	}
	if err := reg.SubscribeTable(ctx, id, table, true); err != nil {
		t.Fatal(err)
	}
}

func nextNotice(t *testing.T, ch <-chan abi.DbEventNotice) abi.DbEventNotice {
	t.Helper()
	select {
	case n, ok := <-ch:
		if !ok {
			t.Fatal("watch closed")
		}
		return n
	case <-time.After(10 * time.Second):
		t.Fatal("no dbevent notice within 10 s")
	}
	return abi.DbEventNotice{}
}

// TestDbEventsCrossProcesses: events notified in process 1 reach process 2's subscribed
// pages (their datachange and a watcher notice marked remote), and come back to nobody:
// process 1's watcher sees its own notice, then process 2's, and no echo in between.
func TestDbEventsCrossProcesses(t *testing.T) {
	url := testpeer.EmbeddedNATS(t)
	p1, p2 := startProcess(t, url, "p01"), startProcess(t, url, "p02")
	subscribedPage(t, p2.reg, "page-2", "todo.item")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w1, err := p1.reg.WatchDbEvents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w2, err := p2.reg.WatchDbEvents(ctx)
	if err != nil {
		t.Fatal(err)
	}
	events := []abi.DbEvent{{Table: "todo.item", Action: "I", PKey: "42", Data: json.RawMessage(`{"text":"milk"}`)}}
	if _, err := p1.reg.NotifyDbEvents(ctx, events, "page-1", "page"); err != nil {
		t.Fatal(err)
	}
	if n := nextNotice(t, w1); ipc.IsRemote(n.Reason) || n.Reason != "page" {
		t.Fatalf("process 1's own notice: reason %q", n.Reason)
	}
	n := nextNotice(t, w2)
	if !ipc.IsRemote(n.Reason) || n.OriginPageID != "page-1" || n.Table != "todo.item" || !reflect.DeepEqual(n.PageIDs, []string{"page-2"}) {
		t.Fatalf("process 2's notice %+v", n)
	}
	if len(n.Events) != 1 || n.Events[0].PKey != "42" || string(n.Events[0].Data) != `{"text":"milk"}` {
		t.Fatalf("events %+v", n.Events)
	}
	changes, err := p2.reg.Datachanges(ctx, abi.ItemRef{Register: abi.RegisterPage, ID: "page-2"}, true)
	if err != nil || len(changes) != 1 || changes[0].Path != abi.DbChangesPath("todo.item") {
		t.Fatalf("page-2 datachanges %+v, %v", changes, err)
	}
	// Back the other way: process 1's next notice is process 2's event, not an echo.
	if _, err := p2.reg.NotifyDbEvents(ctx, []abi.DbEvent{{Table: "todo.item", Action: "D", PKey: "42"}}, "page-2", "page"); err != nil {
		t.Fatal(err)
	}
	if n := nextNotice(t, w1); !ipc.IsRemote(n.Reason) || n.OriginPageID != "page-2" {
		t.Fatalf("process 1's second notice %+v; want process 2's event", n)
	}
	if got := testutil.ToFloat64(p1.metrics.IPCMessages.WithLabelValues("dbevents", "published")); got != 1 {
		t.Errorf("process 1 published %v dbevents messages; want 1", got)
	}
}

// TestGlobalStoreShared: the global item's store is the bucket's, the same in every
// process; paths that are no key-value key survive the round trip.
func TestGlobalStoreShared(t *testing.T) {
	url := testpeer.EmbeddedNATS(t)
	p1, p2 := startProcess(t, url, "p01"), startProcess(t, url, "p02")
	ctx := context.Background()
	odd := "a path/with spaces & ünïcode"
	for path, v := range map[string]string{"todo.items": `["milk"]`, odd: `{"x":1}`} {
		if err := p1.reg.SetData(ctx, globalRef, path, json.RawMessage(v)); err != nil {
			t.Fatal(err)
		}
	}
	v, ok, err := p2.reg.GetData(ctx, globalRef, "todo.items")
	if err != nil || !ok || string(v) != `["milk"]` {
		t.Fatalf("process 2 reads %s %v %v", v, ok, err)
	}
	keys, err := p2.reg.DataKeys(ctx, globalRef)
	if err != nil || !reflect.DeepEqual(keys, []string{odd, "todo.items"}) {
		t.Fatalf("keys %q %v", keys, err)
	}
	if err := p2.reg.ReplaceStore(ctx, globalRef, map[string]json.RawMessage{"only": json.RawMessage(`true`)}); err != nil {
		t.Fatal(err)
	}
	store, err := p1.reg.GetStore(ctx, globalRef)
	if err != nil || len(store) != 1 || string(store["only"]) != "true" {
		t.Fatalf("process 1's store after replace %v %v", store, err)
	}
	item, err := p1.reg.GetItem(ctx, globalRef, true)
	if err != nil || string(item.Data["only"]) != "true" {
		t.Fatalf("GetItem data %v %v", item.Data, err)
	}
	if err := p1.reg.DeleteData(ctx, globalRef, "only"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := p2.reg.GetData(ctx, globalRef, "only"); ok || err != nil {
		t.Fatalf("deleted path still read: %v %v", ok, err)
	}
	if err := p1.reg.SetData(ctx, globalRef, "bad", json.RawMessage(`{`)); !errors.Is(err, abi.ErrInvalid) {
		t.Fatalf("invalid JSON: %v; want ErrInvalid", err)
	}
	// Page items stay in their process.
	subscribedPage(t, p1.reg, "page-1", "todo.item")
	if ok, _ := p2.reg.Exists(ctx, abi.ItemRef{Register: abi.RegisterPage, ID: "page-1"}); ok {
		t.Fatal("process 1's page is visible in process 2")
	}
}

// TestServerDown: with the server gone, local delivery goes on and the shared store
// answers ErrUnavailable (a 503) instead of hanging past the caller's deadline.
func TestServerDown(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	url, stop, err := ipc.StartEmbedded(ctx, ipc.EmbeddedOptions{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	p := startProcess(t, url, "p01")
	subscribedPage(t, p.reg, "page-1", "todo.item")
	if err := p.reg.SetData(ctx, globalRef, "k", json.RawMessage(`1`)); err != nil {
		t.Fatal(err)
	}
	stop()
	notices, err := p.reg.NotifyDbEvents(ctx, []abi.DbEvent{{Table: "todo.item", Action: "U"}}, "", "page")
	if err != nil || len(notices) != 1 || len(notices[0].PageIDs) != 1 {
		t.Fatalf("local delivery with nats down: %+v %v", notices, err)
	}
	short, cancelShort := context.WithTimeout(ctx, 2*time.Second)
	defer cancelShort()
	if _, _, err := p.reg.GetData(short, globalRef, "k"); !errors.Is(err, abi.ErrUnavailable) {
		t.Fatalf("global read with nats down: %v; want ErrUnavailable", err)
	}
	if got := testutil.ToFloat64(p.metrics.IPCErrors.WithLabelValues("kv")); got < 1 {
		t.Errorf("kv errors counted: %v", got)
	}
}

func TestUserToken(t *testing.T) {
	for user, want := range map[string]string{
		"guest_abc-1":    "guest_abc-1",
		"john.doe":       "=am9obi5kb2U",
		"guest_x|p02":    "=Z3Vlc3RfeHxwMDI",
		"=looks-encoded": "=PWxvb2tzLWVuY29kZWQ",
	} {
		if got := ipc.UserToken(user); got != want {
			t.Errorf("UserToken(%q) = %q; want %q", user, got, want)
		}
	}
	s := ipc.NewSubjects("my site.1")
	if s.UserNotify("a.b") != "gnr.my_site_1.user.=YS5i.notify" || s.DbEvents("todo.item") != "gnr.my_site_1.dbevents.todo_item" || s.Bucket != "gnr_my_site_1_global" {
		t.Errorf("subjects %+v %s %s", s, s.UserNotify("a.b"), s.DbEvents("todo.item"))
	}
}

// TestStartsWithServerDown: a process whose server is not up yet starts anyway, delivers
// locally, and closes at once.
func TestStartsWithServerDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "nats://" + ln.Addr().String()
	_ = ln.Close() // nothing listens there now
	m := metrics.New()
	bus, err := ipc.Connect(context.Background(), ipc.Config{URL: url, Site: "down", Logger: slog.New(slog.DiscardHandler), Metrics: m, ConnectTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatalf("connect with the server down: %v", err)
	}
	inner := registrymem.New(registrymem.Config{}, nil)
	defer inner.Close()
	reg := ipc.NewRegistry(inner, bus)
	subscribedPage(t, reg, "page-1", "todo.item")
	notices, err := reg.NotifyDbEvents(context.Background(), []abi.DbEvent{{Table: "todo.item", Action: "I"}}, "", "page")
	if err != nil || len(notices) != 1 || len(notices[0].PageIDs) != 1 {
		t.Fatalf("local delivery: %+v %v", notices, err)
	}
	if bus.Connected() || testutil.ToFloat64(m.IPCConnected) != 0 {
		t.Error("reported connected with no server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := bus.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
}

// TestSlowConsumer: a process whose handler falls behind by more than its pending limit
// loses the excess messages, and the loss is counted (gnrhost_ipc_errors_total
// {kind="slow_consumer"}) rather than growing memory without bound.
func TestSlowConsumer(t *testing.T) {
	url := testpeer.EmbeddedNATS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m := metrics.New()
	slow, err := ipc.Connect(ctx, ipc.Config{URL: url, Site: "ipc-test", Process: "p02", Logger: slog.New(slog.DiscardHandler), Metrics: m, PendingMessages: 4})
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	defer func() {
		close(release)
		if err := slow.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	}()
	if err := slow.OnDbEvents(func(ipc.DbEventsMessage) { <-release }); err != nil {
		t.Fatal(err)
	}
	fast := startProcess(t, url, "p01")
	for i := range 50 {
		if err := fast.bus.PublishDbEvents([]abi.DbEvent{{Table: "todo.item", Action: "U", PKey: fmt.Sprint(i)}}, "", "page"); err != nil {
			t.Fatal(err)
		}
	}
	if err := fast.bus.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// nats.go reports the slow consumer on its own callback goroutine, with no event a
	// test can wait on: look at the counter until it moves.
	for testutil.ToFloat64(m.IPCErrors.WithLabelValues("slow_consumer")) < 1 {
		if ctx.Err() != nil {
			t.Fatal("no slow consumer counted after 50 messages against a limit of 4")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
