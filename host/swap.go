package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/gnrhost/gnrhost/host/admin"
	"github.com/gnrhost/gnrhost/host/pluginset"
)

// Swap replaces the running set with the one in file. The steps, each of which leaves
// the running set serving untouched when it fails:
//
//  1. read and validate the file;
//  2. start the new set beside the old one, reusing the registry and legacy plugins when
//     the new set configures them identically (no restart, no state to copy), with its
//     page requests held behind a gate;
//  3. check every plugin of the new set is healthy;
//  4. switch: new requests go to the new set (atomically, one pointer);
//  5. drain the old set's in-flight requests;
//  6. move state: resident pages write their stores into the registry; a different
//     registry gets a copy of every register (then requests are held, not switched,
//     until the copy is done, so no write lands in the registry being left);
//  7. open the gate, reload a reused legacy site (SIGHUP, graceful), stop the old set's
//     own plugins and free what it held.
//
// After it, the new set must stay healthy for the grace period or it is rolled back by
// itself.
func (rt *Runtime) Swap(ctx context.Context, file string) (admin.SwapRecord, error) {
	return rt.swap(ctx, admin.KindSwap, file)
}

// Rollback swaps back to the set that ran before the current one.
func (rt *Runtime) Rollback(ctx context.Context) (admin.SwapRecord, error) {
	rt.infoMu.Lock()
	prev := rt.previous
	rt.infoMu.Unlock()
	if prev == nil {
		rec := admin.SwapRecord{Kind: admin.KindRollback, From: rt.Current().set.Name, Started: time.Now(),
			Result: admin.ResultFailed, Error: "no previous plugin set to roll back to"}
		rt.record(rec)
		return rec, errors.New(rec.Error)
	}
	return rt.swap(ctx, admin.KindRollback, prev.Path)
}

// Reload swaps to the running set's own file, read again (SIGHUP).
func (rt *Runtime) Reload(ctx context.Context) (admin.SwapRecord, error) {
	return rt.swap(ctx, admin.KindReload, rt.Current().set.Path)
}

func (rt *Runtime) swap(ctx context.Context, kind, file string) (admin.SwapRecord, error) {
	rt.swapMu.Lock()
	defer rt.swapMu.Unlock()
	old := rt.cur.Load()
	rec := admin.SwapRecord{Kind: kind, From: old.host.set.Name, File: file, Started: time.Now()}
	fail := func(err error) (admin.SwapRecord, error) {
		rec.Result, rec.Error = admin.ResultFailed, err.Error()
		rec.Millis = msSince(rec.Started)
		rt.record(rec)
		rt.logger.Warn("plugin set swap refused; the running set keeps serving", "kind", kind, "file", file, "err", err)
		return rec, err
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	if !filepath.IsAbs(file) {
		return fail(fmt.Errorf("swap: %q: the file must be an absolute path (the host and the command may not share a directory)", file))
	}

	// 1. Validate.
	set, err := pluginset.Load(file, rt.catalog.PluginSetCatalog())
	if err != nil {
		return fail(err)
	}
	set.Listen = old.host.set.Listen // the listener stays; a new address needs a restart
	rec.To = set.Name

	// 2. Start beside the running set.
	opts := rt.hostOptions(set)
	reuseRegistry := sameSlot(old.host.set.Registry, set.Registry) && old.host.ownRegistry.Load()
	reuseLegacy := old.host.legacy != nil && set.Legacy != nil && sameSlot(old.host.set.Legacy, set.Legacy) &&
		filepath.Dir(old.host.set.Path) == filepath.Dir(set.Path) && old.host.ownLegacy.Load()
	if reuseRegistry {
		opts.Registry = old.host.registry
		rec.Steps = append(rec.Steps, "registry "+set.Registry.Plugin+" kept running")
	}
	if reuseLegacy {
		opts.Legacy = old.host.legacy
		rec.Steps = append(rec.Steps, "legacy "+set.Legacy.Plugin+" kept running")
	}
	gate := make(chan struct{})
	opts.PagesGate = gate
	nh, err := New(ctx, opts)
	if err != nil {
		return fail(err)
	}
	abandon := func(err error) (admin.SwapRecord, error) {
		close(gate)
		closeCtx, cancel := context.WithTimeout(context.Background(), nh.set.ShutdownTimeout.D())
		defer cancel()
		if cerr := nh.Close(closeCtx); cerr != nil {
			rt.logger.Warn("stop the refused set's plugins", "err", cerr)
		}
		return fail(err)
	}

	// 3. Health.
	for _, st := range nh.Plugins() {
		if st.State != "up" {
			return abandon(fmt.Errorf("swap: plugin %s (%s slot) is %s: %s", st.Plugin, st.Slot, st.State, st.LastError))
		}
	}
	ng := &generation{host: nh, since: time.Now()}
	drainTimeout := old.host.set.ShutdownTimeout.D()

	if reuseRegistry {
		// 4. Switch; 5. drain; 6. hand the resident pages over.
		rt.cur.Store(ng)
		rec.Steps = append(rec.Steps, "switched")
		drainCtx, cancel := context.WithTimeout(context.Background(), drainTimeout)
		if err := old.retire(drainCtx); err != nil {
			rt.logger.Warn("old set's requests did not finish in time; handing its pages over anyway", "err", err)
			rec.Steps = append(rec.Steps, "drain timed out: "+err.Error())
		}
		cancel()
		n, err := old.host.pages.Handoff(context.Background())
		if err != nil {
			// The switch is done; what was not saved is reported, not undone.
			rec.Steps = append(rec.Steps, "hand over: "+err.Error())
			rt.logger.Error("resident pages not all handed over", "err", err)
		}
		rec.Steps = append(rec.Steps, fmt.Sprintf("%d resident pages handed over", n))
	} else {
		// A different registry: hold new requests, drain the old set, copy, switch.
		rt.startHold()
		drainCtx, cancel := context.WithTimeout(context.Background(), drainTimeout)
		err := old.retire(drainCtx)
		cancel()
		if err != nil {
			rt.logger.Warn("old set's requests did not finish in time; copying the registers anyway", "err", err)
			rec.Steps = append(rec.Steps, "drain timed out: "+err.Error())
		}
		n, err := old.host.pages.Handoff(context.Background())
		if err == nil {
			rec.Steps = append(rec.Steps, fmt.Sprintf("%d resident pages handed over", n))
			var copied copyCounts
			copied, err = copyRegisters(ctx, old.host.registry, nh.registry)
			rec.Steps = append(rec.Steps, "registers copied: "+copied.String())
		}
		if err != nil && kind == admin.KindAutoRollback {
			// The set being left is broken (that is why it is rolled back): serving from
			// the previous set with the state it can still give beats staying broken.
			rec.Steps = append(rec.Steps, "state not fully moved from the failed set: "+err.Error())
			rt.logger.Error("automatic rollback: state not fully moved", "err", err)
			err = nil
		}
		if err != nil {
			old.unretire()
			rt.endHold()
			return abandon(fmt.Errorf("swap: move state to %s: %w", set.Registry.Plugin, err))
		}
		rt.cur.Store(ng)
		rt.endHold()
		rec.Steps = append(rec.Steps, "switched")
	}

	// 7. Open the gate, release the old set.
	close(gate)
	if reuseRegistry {
		old.host.ownRegistry.Store(false)
		nh.ownRegistry.Store(true)
	}
	if reuseLegacy {
		old.host.ownLegacy.Store(false)
		nh.ownLegacy.Store(true)
		if err := nh.legacy.Reload(ctx); err != nil {
			rec.Steps = append(rec.Steps, "legacy reload: "+err.Error())
		} else {
			rec.Steps = append(rec.Steps, "legacy reloaded gracefully")
		}
	}
	closeCtx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	if err := old.host.Close(closeCtx); err != nil {
		rec.Steps = append(rec.Steps, "release old set: "+err.Error())
		rt.logger.Warn("release old set", "err", err)
	}
	cancel()
	rt.infoMu.Lock()
	rt.previous = old.host.set
	rt.infoMu.Unlock()
	rec.Result = admin.ResultOK
	rec.Millis = msSince(rec.Started)
	rt.record(rec)
	rt.metrics.SwapDuration.Observe(rec.Millis / 1000)
	rt.logger.Info("plugin set swapped", "kind", kind, "from", rec.From, "to", rec.To, "ms", rec.Millis, "steps", rec.Steps)
	if kind != admin.KindAutoRollback {
		rt.watchGrace(ng)
	}
	return rec, nil
}

// watchGrace rolls the new set back when it turns unhealthy within the grace period.
func (rt *Runtime) watchGrace(g *generation) {
	if rt.watchCancel != nil {
		rt.watchCancel()
	}
	grace := g.host.set.Admin.RollbackGrace.D()
	if rt.grace > 0 {
		grace = rt.grace
	}
	ctx, cancel := context.WithTimeout(rt.serveCtx, grace)
	rt.watchCancel = cancel
	interval := min(g.host.set.Health.Interval.D(), grace/4)
	go func() {
		defer cancel()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if rt.cur.Load() != g {
				return
			}
			for _, st := range g.host.Plugins() {
				if st.State == "up" || st.State == "starting" {
					continue
				}
				reason := fmt.Sprintf("plugin %s (%s slot) became %s within the %v grace period", st.Plugin, st.Slot, st.State, grace)
				rt.logger.Error("swapped-in set unhealthy; rolling back", "reason", reason)
				rt.autoRollback(g, reason)
				return
			}
		}
	}()
}

func (rt *Runtime) autoRollback(g *generation, reason string) {
	rt.infoMu.Lock()
	prev := rt.previous
	rt.infoMu.Unlock()
	if prev == nil || rt.cur.Load() != g {
		return
	}
	rec, err := rt.swap(context.Background(), admin.KindAutoRollback, prev.Path)
	if err != nil {
		rt.logger.Error("automatic rollback failed", "err", err, "record", rec)
		return
	}
	// Mark the swap that was undone.
	rt.infoMu.Lock()
	defer rt.infoMu.Unlock()
	for i := len(rt.history) - 2; i >= 0; i-- {
		if rt.history[i].Result == admin.ResultOK && rt.history[i].To == g.host.set.Name {
			rt.history[i].Result = admin.ResultRolledBack
			rt.history[i].Error = reason
			break
		}
	}
}

func (rt *Runtime) record(rec admin.SwapRecord) {
	rt.infoMu.Lock()
	defer rt.infoMu.Unlock()
	rt.history = append(rt.history, rec)
	if len(rt.history) > maxHistory {
		rt.history = slices.Delete(rt.history, 0, len(rt.history)-maxHistory)
	}
	rt.metrics.Swaps.WithLabelValues(rec.Kind, rec.Result).Inc()
}

func msSince(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }

// sameSlot reports whether two slots configure the same plugin identically, so the
// running one can serve the new set as it is.
func sameSlot(a, b *pluginset.PluginSlot) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Plugin == b.Plugin && a.Mode == b.Mode && bytes.Equal(a.Config, b.Config) && a.Restart == b.Restart &&
		a.MaxProcs == b.MaxProcs
}
