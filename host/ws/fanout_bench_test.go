package ws_test

import (
	"context"
	"strings"
	"testing"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/internal/testpeer"
)

// BenchmarkFanout is one dbevent delivered to 1,000 subscribed resident pages and read
// by their sockets, in one process (the cross-process figures come from bench/ws.sh):
// per-page runs the test guest's event entry for every page; shared is the same guest
// with SHARED_EVENTS, whose event entry runs once for all of them.
func BenchmarkFanout(b *testing.B) {
	b.Run("per-page", func(b *testing.B) { benchFanout(b, testpeer.PageGuestWAT) })
	b.Run("shared", func(b *testing.B) { benchFanout(b, sharedPageGuest()) })
}

// sharedPageGuest is the test guest asking for SHARED_EVENTS (EVENTS | CLOSE | PUSH |
// SHARED_EVENTS): its event entry only pushes its input, the same for every page.
func sharedPageGuest() string {
	return strings.Replace(testpeer.PageGuestWAT, `(func (export "gnr_abi_v1"))`,
		`(func (export "gnr_abi_v1")) (func (export "gnr_features") (param i64) (result i64) (i64.and (local.get 0) (i64.const 15)))`, 1)
}

func benchFanout(b *testing.B, guest string) {
	h := startHostGuest(b, "", guest)
	br := &browser{t: b, h: h, jar: mustJar()}
	const n = 1000
	conns := make(chan struct{}, n)
	for range n {
		c := br.mustDial(br.open("/r"), "")
		readText(c) // hello
		go func() {
			for {
				data, err := readText(c)
				if err != nil {
					return
				}
				if len(data) > 10 && string(data[:15]) == `{"type":"push",` {
					conns <- struct{}{}
				}
			}
		}()
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := h.Pages().Notify(context.Background(), []abi.DbEvent{{Table: "t.x", Action: "U"}}, "", "bench"); err != nil {
			b.Fatal(err)
		}
		for range n {
			<-conns
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "pushes/s")
}
