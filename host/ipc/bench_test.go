package ipc_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/gnrhost/gnrhost/internal/testpeer"
)

// BenchmarkGlobalGet is one read of the shared global store: a JetStream key-value round
// trip, what a page's global_get costs under the nats backend.
//
//	go test -run '^$' -bench GlobalGet ./host/ipc/
func BenchmarkGlobalGet(b *testing.B) {
	p := startProcess(b, testpeer.EmbeddedNATS(b), "p01")
	ctx := context.Background()
	if err := p.reg.SetData(ctx, globalRef, "todo.items", json.RawMessage(`["milk","eggs"]`)); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, ok, err := p.reg.GetData(ctx, globalRef, "todo.items"); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}
