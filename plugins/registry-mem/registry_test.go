package registrymem

import (
	"errors"
	"testing"

	"go.uber.org/goleak"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/abi/registrytest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newTestRegistry returns a registry closed at the end of the test. The conformance suite
// closes some registries itself, so a second Close's ErrUnavailable is expected.
func newTestRegistry(t testing.TB, cfg Config) *Registry {
	reg := New(cfg, nil)
	t.Cleanup(func() {
		if err := reg.Close(); err != nil && !errors.Is(err, abi.ErrUnavailable) {
			t.Errorf("Close: %v", err)
		}
	})
	return reg
}

func TestConformance(t *testing.T) {
	registrytest.Run(t, func(t *testing.T) abi.Registry {
		return newTestRegistry(t, Config{})
	}, registrytest.Options{})
}

// Non-default ages must be honoured the same way; they are picked so every age-ordering
// check of the suite still applies.
func TestConformanceCustomAges(t *testing.T) {
	cfg := Config{
		PageMaxAge:            Duration(DefaultPageMaxAge * 2),
		ConnectionMaxAge:      Duration(DefaultConnectionMaxAge / 2),
		GuestConnectionMaxAge: Duration(DefaultGuestConnectionMaxAge * 3),
	}
	registrytest.Run(t, func(t *testing.T) abi.Registry {
		return newTestRegistry(t, cfg)
	}, registrytest.Options{
		PageMaxAge:            cfg.PageMaxAge.D(),
		ConnectionMaxAge:      cfg.ConnectionMaxAge.D(),
		GuestConnectionMaxAge: cfg.GuestConnectionMaxAge.D(),
	})
}

func BenchmarkGetItem(b *testing.B) {
	registrytest.BenchmarkGetItem(b, newTestRegistry(b, Config{}))
}
