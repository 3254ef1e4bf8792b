package ws_test

import (
	"context"
	"testing"

	"github.com/gnrhost/gnrhost/abi"
)

// BenchmarkFanout is one dbevent delivered to 1,000 subscribed resident pages and read
// by their sockets, in one process (the cross-process figures come from bench/ws.sh).
func BenchmarkFanout(b *testing.B) {
	h := startHost(b, "")
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
