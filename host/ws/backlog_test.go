package ws_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws/wsutil"

	"github.com/gnrhost/gnrhost/abi"
)

// A client that stops reading for a while (its socket fills up, so pushes are written in
// part and finished later by a flusher) and sends a ping meanwhile gets every push,
// whole and in order, and its pong, once it reads again: a frame is never cut by another.
func TestBacklogStaysWhole(t *testing.T) {
	h := startHost(t, "websocket: {queue_messages: 1024, queue_bytes: 4194304, write_timeout: 30s}\n")
	b := h.browser(t)
	conn := b.mustDial(b.open("/r"), "")
	mustRead(t, conn)
	raw := conn
	if bc, ok := conn.(*bufferedConn); ok {
		raw = bc.Conn
	}
	if tc, ok := raw.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(32 << 10) // with the host's 64 KiB send buffer, ~100 KB in flight
	}
	big, _ := json.Marshal(strings.Repeat("y", 3000))
	const total = 200
	for i := range total {
		ev := abi.DbEvent{Table: "t.x", Action: "U", PKey: strconv.Itoa(i), Data: big}
		if _, err := h.Pages().Notify(context.Background(), []abi.DbEvent{ev}, "", "test"); err != nil {
			t.Fatal(err)
		}
		if i == total/2 {
			send(t, conn, `{"type":"ping","id":"mid"}`)
		}
	}
	time.Sleep(200 * time.Millisecond) // let the socket fill while nobody reads
	next, pong := uint64(1), false
	for next <= total || !pong {
		f := mustRead(t, conn)
		switch f.Type {
		case "pong":
			pong = string(f.ID) == `"mid"`
		case "push":
			if f.Seq != next || !strings.Contains(string(f.Data), `"pkey":"`+strconv.Itoa(int(next-1))+`"`) {
				t.Fatalf("push %d (%.60s), want %d", f.Seq, f.Data, next)
			}
			next++
		default:
			t.Fatalf("unexpected frame %+v", f)
		}
	}
}

// Pushes made from several goroutines at once, to a page with two sockets whose readers
// also send pings (so pushes meet other writes on the socket), reach each socket exactly
// once each, in order.
func TestConcurrentPushesInOrder(t *testing.T) {
	h := startHost(t, "websocket: {queue_messages: 4096, queue_bytes: 16777216}\n")
	b := h.browser(t)
	page := b.open("/r")
	conns := []net.Conn{b.mustDial(page, ""), b.mustDial(page, "")}
	for _, c := range conns {
		mustRead(t, c)
	}
	const senders, each = 4, 100
	const total = senders * each
	done := make(chan error, len(conns))
	for _, c := range conns {
		go func() {
			next := uint64(1)
			pings := 0
			for next <= total {
				if pings < 20 && next%10 == 0 {
					if err := wsutilWriteText(c, `{"type":"ping","id":1}`); err != nil {
						done <- err
						return
					}
					pings++
				}
				f, err := read(t, c)
				if err != nil {
					done <- err
					return
				}
				if f.Type != "push" {
					continue
				}
				if f.Seq != next {
					done <- errors.New("push " + strconv.FormatUint(f.Seq, 10) + ", want " + strconv.FormatUint(next, 10))
					return
				}
				next++
			}
			done <- nil
		}()
	}
	var wg sync.WaitGroup
	for range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if _, err := h.Pages().Notify(context.Background(), []abi.DbEvent{{Table: "t.x", Action: "U"}}, "", "test"); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for range conns {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

func wsutilWriteText(c net.Conn, s string) error { return wsutil.WriteClientText(c, []byte(s)) }
