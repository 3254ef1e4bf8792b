package registryrpc

import (
	"testing"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/abi/registrytest"
	registrymem "github.com/gnrhost/gnrhost/plugins/registry-mem"
)

// TestConformanceOverGRPC runs the registry conformance suite against the in-memory
// backend seen through the gRPC glue: whatever passes in-process must pass
// out-of-process, so the host cannot tell the two modes apart.
func TestConformanceOverGRPC(t *testing.T) {
	registrytest.Run(t, func(t *testing.T) abi.Registry {
		impl := registrymem.New(registrymem.Config{}, nil)
		// Registered before connect's cleanups, so it runs after them: the backend is
		// closed once nothing serves it any more. The client's Close (which the suite
		// may call) never reaches the backend, as with a real plugin process.
		t.Cleanup(func() {
			if err := impl.Close(); err != nil {
				t.Errorf("close backend: %v", err)
			}
		})
		reg, _, _ := connect(t, impl)
		return reg
	}, registrytest.Options{})
}
