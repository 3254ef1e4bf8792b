package registryrpc

import (
	"log/slog"
	"testing"

	"github.com/gnrhost/gnrhost/abi/registrytest"
	registrymem "github.com/gnrhost/gnrhost/plugins/registry-mem"
)

// BenchmarkGetItemGRPC is get_item over a real gRPC connection inside one process: the
// cost of the wire alone, without a second process to wake up.
func BenchmarkGetItemGRPC(b *testing.B) {
	reg := registrymem.New(registrymem.Config{}, slog.New(slog.DiscardHandler))
	defer reg.Close()
	client, _, _ := connect(b, reg)
	registrytest.BenchmarkGetItem(b, client)
}
