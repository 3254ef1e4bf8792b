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
// its own daemon.
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
	registrytest.BenchmarkGetItem(b, r)
}
