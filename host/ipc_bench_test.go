package host_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/internal/testpeer"
)

// BenchmarkCrossProcessDbEvent measures a dbevent's trip from its publish in process 1
// (the page manager's Notify, as a page handler's publish or POST /_gnr/dbevents) to the
// push frame it causes on a WebSocket of process 2: NATS, process 2's registry and
// watcher, the page's event entry (which reads the shared global store) and the socket.
// It reports the p50 and p99 of that latency; one event is in flight at a time.
//
//	go test -run '^$' -bench CrossProcessDbEvent -benchtime 2000x ./host/
func BenchmarkCrossProcessDbEvent(b *testing.B) {
	benchCrossProcessDbEvent(b, testpeer.EmbeddedNATS(b))
}

// BenchmarkCrossProcessDbEventNATSServer is the same through Debian's nats-server binary.
func BenchmarkCrossProcessDbEventNATSServer(b *testing.B) {
	benchCrossProcessDbEvent(b, testpeer.NATSServer(b))
}

func benchCrossProcessDbEvent(b *testing.B, natsURL string) {
	b.Setenv("GNRHOST_TEST_SECRET", "0123456789abcdef0123")
	b.Setenv("GNRHOST_TEST_EVENTS", notifyToken)
	rt1, _, _, base2 := twoNATSProcesses(b, natsURL)
	bob := openTodo(b, base2)
	sock := bob.dial(b)
	sock.nextOfType(b, "hello")
	pages := rt1.Current().Pages()
	events := []abi.DbEvent{{Table: "todo.item", Action: "U", PKey: "1"}}
	ctx := context.Background()
	latencies := make([]time.Duration, 0, b.N)
	for b.Loop() {
		start := time.Now()
		if _, err := pages.Notify(ctx, events, "", "bench"); err != nil {
			b.Fatal(err)
		}
		sock.nextOfType(b, "push")
		latencies = append(latencies, time.Since(start))
	}
	slices.Sort(latencies)
	at := func(q float64) float64 {
		return float64(latencies[int(q*float64(len(latencies)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
	b.ReportMetric(float64(latencies[len(latencies)-1].Microseconds())/1000, "max-ms")
}
