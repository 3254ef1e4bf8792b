package pluginmgr_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/abi/registrytest"
	"github.com/gnrhost/gnrhost/host/metrics"
	"github.com/gnrhost/gnrhost/host/pluginmgr"
	"github.com/gnrhost/gnrhost/host/pluginset"
	registrymem "github.com/gnrhost/gnrhost/plugins/registry-mem"
)

// records is a slog handler that keeps records so tests can wait for one.
type records struct {
	mu    sync.Mutex
	list  []slog.Record
	attrs []slog.Attr
	added chan struct{}
}

func newRecords() *records { return &records{added: make(chan struct{}, 1)} }

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) WithGroup(string) slog.Handler            { return r }
func (r *records) WithAttrs(as []slog.Attr) slog.Handler {
	return &recordsView{parent: r, attrs: as}
}
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	r.add(rec.Clone(), nil)
	return nil
}

func (r *records) add(rec slog.Record, attrs []slog.Attr) {
	rec.AddAttrs(attrs...)
	r.mu.Lock()
	r.list = append(r.list, rec)
	r.mu.Unlock()
	select {
	case r.added <- struct{}{}:
	default:
	}
}

// waitFor waits until a record satisfies ok.
func (r *records) waitFor(t *testing.T, what string, ok func(slog.Record) bool) slog.Record {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		r.mu.Lock()
		for _, rec := range r.list {
			if ok(rec) {
				r.mu.Unlock()
				return rec
			}
		}
		r.mu.Unlock()
		select {
		case <-r.added:
		case <-deadline:
			t.Fatalf("no log record: %s", what)
		}
	}
}

type recordsView struct {
	parent *records
	attrs  []slog.Attr
}

func (v *recordsView) Enabled(context.Context, slog.Level) bool { return true }
func (v *recordsView) WithGroup(string) slog.Handler            { return v }
func (v *recordsView) WithAttrs(as []slog.Attr) slog.Handler {
	return &recordsView{parent: v.parent, attrs: append(append([]slog.Attr{}, v.attrs...), as...)}
}
func (v *recordsView) Handle(_ context.Context, rec slog.Record) error {
	v.parent.add(rec.Clone(), v.attrs)
	return nil
}

func attr(rec slog.Record, key string) string {
	var out string
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			out = a.Value.String()
			return false
		}
		return true
	})
	return out
}

func testExecutable(t testing.TB) string {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

func startSlot(t testing.TB, mode pluginset.Mode, logger *slog.Logger, m *metrics.Metrics) *pluginmgr.RegistrySlot {
	t.Helper()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	slot, err := pluginmgr.StartRegistry(context.Background(), pluginmgr.RegistryConfig{
		Factory: registrymem.Factory,
		Slot: &pluginset.PluginSlot{
			Plugin:  "registry-mem",
			Mode:    mode,
			Restart: pluginset.Backoff{Initial: pluginset.Duration(50 * time.Millisecond), Max: pluginset.Duration(time.Second)},
		},
		Health:     pluginset.HealthSettings{Interval: pluginset.Duration(100 * time.Millisecond), Timeout: pluginset.Duration(time.Second)},
		Executable: testExecutable(t),
		Logger:     logger,
		Metrics:    m,
	})
	if err != nil {
		t.Fatalf("StartRegistry(%s): %v", mode, err)
	}
	t.Cleanup(func() { _ = slot.Close() })
	return slot
}

// The conformance suite through the whole manager path, both modes: the host's view of a
// registry is the slot, so that is what must conform.
func TestConformanceInProcess(t *testing.T) {
	registrytest.Run(t, func(t *testing.T) abi.Registry {
		return startSlot(t, pluginset.ModeInProcess, nil, nil)
	}, registrytest.Options{})
}

func TestConformanceOutOfProcess(t *testing.T) {
	registrytest.Run(t, func(t *testing.T) abi.Registry {
		return startSlot(t, pluginset.ModeProcess, nil, nil)
	}, registrytest.Options{})
}

func TestRestartAfterKill(t *testing.T) {
	m := metrics.New()
	slot := startSlot(t, pluginset.ModeProcess, nil, m)
	ctx := context.Background()
	ref := abi.ItemRef{Register: abi.RegisterGlobal, ID: abi.GlobalItemID}
	if err := slot.SetData(ctx, ref, "x", []byte(`1`)); err != nil {
		t.Fatal(err)
	}
	pid := slot.Status().PID
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Calls fail fast with an error naming the plugin until the restart lands.
	var down *pluginmgr.DownError
	deadline := time.Now().Add(10 * time.Second)
	for {
		start := time.Now()
		_, _, err := slot.GetData(ctx, ref, "x")
		if took := time.Since(start); took > time.Second {
			t.Fatalf("call during outage took %s", took)
		}
		if err != nil {
			if !errors.As(err, &down) || !errors.Is(err, abi.ErrUnavailable) || down.Plugin != "registry-mem" {
				t.Fatalf("error during outage = %v; want a DownError naming registry-mem", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("calls kept succeeding after the plugin was killed")
		}
	}
	for st := slot.Status(); st.State != pluginmgr.StateUp || st.PID == pid || st.PID == 0; st = slot.Status() {
		if time.Now().After(deadline) {
			t.Fatalf("plugin not restarted: %+v", slot.Status())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st := slot.Status(); st.Restarts != 1 {
		t.Fatalf("restarts = %d, want 1", st.Restarts)
	}
	if got := testutil.ToFloat64(m.PluginRestarts.WithLabelValues("registry", "registry-mem")); got != 1 {
		t.Fatalf("restart metric = %v", got)
	}
	// A restarted in-memory registry starts empty; the slot works again.
	if err := slot.SetData(ctx, ref, "x", []byte(`2`)); err != nil {
		t.Fatal(err)
	}
}

// go-plugin hands stderr lines over 64 KB to its reader in pieces; the bridge must put
// them back together and tag them with the plugin's name.
func TestLongLogLineFromChild(t *testing.T) {
	const n = 300 << 10
	t.Setenv(envLongLog, "307200")
	recs := newRecords()
	startSlot(t, pluginset.ModeProcess, slog.New(recs), nil)
	rec := recs.waitFor(t, "the long line", func(r slog.Record) bool { return attr(r, "marker") == "long-line" })
	if len(rec.Message) != n {
		t.Fatalf("long line arrived with %d bytes, want %d", len(rec.Message), n)
	}
	if attr(rec, "plugin") != "registry-mem" || attr(rec, "slot") != "registry" {
		t.Fatalf("record not tagged with the plugin: plugin=%q slot=%q", attr(rec, "plugin"), attr(rec, "slot"))
	}
}

func TestStartFailureIsReported(t *testing.T) {
	_, err := pluginmgr.StartRegistry(context.Background(), pluginmgr.RegistryConfig{
		Factory: registrymem.Factory,
		Slot: &pluginset.PluginSlot{
			Plugin: "registry-mem", Mode: pluginset.ModeProcess,
			Config: []byte(`{"page_max_age": 5}`),
		},
		Health:     pluginset.HealthSettings{Interval: pluginset.Duration(time.Second), Timeout: pluginset.Duration(time.Second)},
		Executable: testExecutable(t),
		Logger:     slog.New(slog.DiscardHandler),
	})
	if err == nil {
		t.Fatal("a plugin with a bad config started")
	}
}
