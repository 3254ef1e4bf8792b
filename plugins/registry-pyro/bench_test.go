package registrypyro

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"testing"

	"github.com/gnrhost/gnrhost/abi/registrytest"
	"github.com/gnrhost/gnrhost/internal/testpeer"
)

// BenchmarkGetItem times abi.Registry.GetItem through registry-pyro: one get_item call on
// the site register plus decoding the item. bench/registry-pyro.sh runs it against the
// same daemon as testdata/gnrdaemon/bench_proxy.py (Python's Pyro4.Proxy) by setting
// GNRHOST_BENCH_PYRO_DAEMON (host:port) and GNRHOST_BENCH_PYRO_KEY; without them it starts
// its own daemon. Besides ns/op (wall time, mostly the daemon's) it reports cpu-ns/op, the
// process's user+system time per call: the client's own cost, comparable with the
// "us cpu/call" bench_proxy.py prints.
func BenchmarkGetItem(b *testing.B) {
	addr, key := os.Getenv("GNRHOST_BENCH_PYRO_DAEMON"), os.Getenv("GNRHOST_BENCH_PYRO_KEY")
	if addr == "" {
		d := testpeer.StartGnrdaemon(b, testKey, 0)
		addr, key = d.Addr, testKey
	}
	cfg, err := ParseConfig(json.RawMessage(fmt.Sprintf(`{"daemon": %q, "hmac_key": %q, "site": "bench-go", "pool_size": 1}`, addr, key)))
	if err != nil {
		b.Fatal(err)
	}
	r, err := New(b.Context(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	cpu0, ok := processCPU()
	registrytest.BenchmarkGetItem(b, r)
	// b.N is the loop's total iteration count once b.Loop is done; the two seeding calls
	// the measurement also covers are noise next to thousands of calls.
	if cpu1, ok1 := processCPU(); ok && ok1 && b.N > 0 {
		b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
	}
}
