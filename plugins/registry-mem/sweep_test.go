package registrymem

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gnrhost/gnrhost/abi"
)

// syncBuffer is a log sink the sweeper goroutine and the test can share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestSweeperRuns checks the background sweeper expires items on its own and logs it.
func TestSweeperRuns(t *testing.T) {
	var logs syncBuffer
	reg := New(Config{
		PageMaxAge:            Duration(20 * time.Millisecond),
		ConnectionMaxAge:      Duration(time.Hour),
		GuestConnectionMaxAge: Duration(20 * time.Millisecond),
		SweepInterval:         Duration(10 * time.Millisecond),
	}, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	defer reg.Close()
	ctx := t.Context()

	for _, it := range []abi.Item{
		{Register: abi.RegisterUser, ID: "guest_1"},
		{Register: abi.RegisterConnection, ID: "g1", User: "guest_1", Guest: true},
		{Register: abi.RegisterConnection, ID: "c1", User: "alice"},
		{Register: abi.RegisterPage, ID: "p1", ConnectionID: "c1"},
	} {
		if err := reg.AddItem(ctx, it); err != nil {
			t.Fatalf("AddItem %s: %v", it.ID, err)
		}
	}

	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := reg.Counters(ctx)
		if err != nil {
			t.Fatalf("Counters: %v", err)
		}
		if c == (abi.Counters{Users: 0, Connections: 1, Pages: 0}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sweeper did not expire the page, guest connection and guest user: counters %+v", c)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if ok, _ := reg.Exists(ctx, abi.ItemRef{Register: abi.RegisterConnection, ID: "c1"}); !ok {
		t.Error("sweeper expired c1, whose max age is an hour")
	}
	if err := reg.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	out := logs.String()
	for _, frag := range []string{"expired items", "p1", "g1", "guest_1"} {
		if !strings.Contains(out, frag) {
			t.Errorf("sweeper log does not mention %q:\n%s", frag, out)
		}
	}
}

func TestSweepOrphanUser(t *testing.T) {
	reg := newTestRegistry(t, Config{})
	ctx := t.Context()
	if err := reg.AddItem(ctx, abi.Item{Register: abi.RegisterUser, ID: "loner"}); err != nil {
		t.Fatal(err)
	}
	it, err := reg.GetItem(ctx, abi.ItemRef{Register: abi.RegisterUser, ID: "loner"}, false)
	if err != nil || it.User != "loner" {
		t.Fatalf("user item User = %q, %v; want the id", it.User, err)
	}
	now := time.Now()
	exp, err := reg.Sweep(ctx, now.Add(DefaultConnectionMaxAge-time.Minute))
	if err != nil || len(exp.Users) != 0 {
		t.Fatalf("young orphan user swept: %+v, %v", exp, err)
	}
	exp, err = reg.Sweep(ctx, now.Add(DefaultConnectionMaxAge+time.Minute))
	if err != nil || len(exp.Users) != 1 || exp.Users[0] != "loner" {
		t.Fatalf("old orphan user not swept: %+v, %v", exp, err)
	}
}
