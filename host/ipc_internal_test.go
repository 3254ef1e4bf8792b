package host

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/gnrhost/gnrhost/host/ipc"
	"github.com/gnrhost/gnrhost/host/pluginset"
)

// TestIPCURLRule: several processes without ipc.url or GNRHOST_NATS_URL refuse to start,
// saying what to set; the local backend needs nothing.
func TestIPCURLRule(t *testing.T) {
	t.Setenv(ipc.EnvURL, "")
	logger := slog.New(slog.DiscardHandler)
	set := &pluginset.Set{Name: "shop", Processes: 3, IPC: &pluginset.IPC{Backend: "nats"}}
	_, err := startIPC(context.Background(), set, 2, logger, nil)
	if err == nil || !strings.Contains(err.Error(), "needs a shared server: set ipc.url or GNRHOST_NATS_URL") {
		t.Fatalf("3 processes, no URL: %v", err)
	}
	link, err := startIPC(context.Background(), &pluginset.Set{Processes: 3, IPC: &pluginset.IPC{Backend: "local"}}, 2, logger, nil)
	if link != nil || err != nil {
		t.Fatalf("local backend: %v %v", link, err)
	}
	if url, source := ipc.ResolveURL(""); url != "" || source != "" {
		t.Fatalf("no URL anywhere resolved to %q (%s)", url, source)
	}
	t.Setenv(ipc.EnvURL, "nats://127.0.0.1:1")
	if url, source := ipc.ResolveURL(""); url != "nats://127.0.0.1:1" || source != ipc.EnvURL {
		t.Fatalf("env URL resolved to %q (%s)", url, source)
	}
	if url, _ := ipc.ResolveURL("nats://set:4222"); url != "nats://set:4222" {
		t.Fatalf("the set's URL does not win: %q", url)
	}
}
