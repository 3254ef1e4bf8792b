package main

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/gnrhost/gnrhost/abi/registrytest"
	"github.com/gnrhost/gnrhost/host/pluginmgr"
	"github.com/gnrhost/gnrhost/host/pluginset"
	"github.com/gnrhost/gnrhost/internal/testpeer"
	registrymem "github.com/gnrhost/gnrhost/plugins/registry-mem"
)

func benchSlot(b *testing.B, mode pluginset.Mode) *pluginmgr.RegistrySlot {
	return benchSlotProcs(b, mode, 0)
}

func benchSlotProcs(b *testing.B, mode pluginset.Mode, maxProcs int) *pluginmgr.RegistrySlot {
	b.Helper()
	slot, err := pluginmgr.StartRegistry(context.Background(), pluginmgr.RegistryConfig{
		Factory:    registrymem.Factory,
		Slot:       &pluginset.PluginSlot{Plugin: "registry-mem", Mode: mode, MaxProcs: maxProcs, Restart: pluginset.Backoff{Initial: pluginset.Duration(time.Second), Max: pluginset.Duration(time.Second)}},
		Health:     pluginset.HealthSettings{Interval: pluginset.Duration(time.Hour), Timeout: pluginset.Duration(time.Second)},
		Executable: testpeer.Gnrhost(b),
		Logger:     slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	return slot
}

// BenchmarkRegistryGetItem compares get_item through the host's registry slot with
// registry-mem in-process and out-of-process (the real gnrhost binary as the child).
// bench/registry.sh prints the ratio.
func BenchmarkRegistryGetItem(b *testing.B) {
	for _, c := range benchCases {
		b.Run(c.name, func(b *testing.B) {
			slot := benchSlotProcs(b, c.mode, c.maxProcs)
			defer slot.Close()
			registrytest.BenchmarkGetItem(b, slot)
		})
	}
}

var benchCases = []struct {
	name     string
	mode     pluginset.Mode
	maxProcs int
}{
	{"inprocess", pluginset.ModeInProcess, 0},
	{"process", pluginset.ModeProcess, 0},
	{"process-maxprocs1", pluginset.ModeProcess, 1},
}

// BenchmarkPluginStartup is the time from starting an out-of-process plugin to its first
// healthy answer: fork+exec of gnrhost, go-plugin handshake, gRPC dial, dispense, Ping.
func BenchmarkPluginStartup(b *testing.B) {
	testpeer.Gnrhost(b) // build outside the timed loop
	for b.Loop() {
		slot := benchSlot(b, pluginset.ModeProcess)
		b.StopTimer()
		_ = slot.Close()
		b.StartTimer()
	}
}

// BenchmarkRegistryGetItemParallel is the same call from many goroutines at once: the
// throughput view, where the wake-up latency of an idle child process is shared.
func BenchmarkRegistryGetItemParallel(b *testing.B) {
	for _, c := range benchCases {
		b.Run(c.name, func(b *testing.B) {
			slot := benchSlotProcs(b, c.mode, c.maxProcs)
			defer slot.Close()
			registrytest.BenchmarkGetItemParallel(b, slot, 16)
		})
	}
}
