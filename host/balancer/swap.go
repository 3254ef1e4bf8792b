package balancer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gnrhost/gnrhost/host/admin"
)

// Swaps through the balancer: `gnrhost swap FILE`, `rollback` and `reload` against the
// balancer's admin socket swap every process in turn, over each one's own admin socket
// (each does the host's validate, start beside, health, switch, drain). If one refuses,
// the processes already swapped are swapped back to the file they ran, and the refusal
// is reported: all processes run the same set, before or after.
//
// The balancer keeps the current and previous files itself: a process restarted after a
// crash, or started by a scale, runs the current file, and has no previous set of its
// own, so a rollback is a swap of every process to the balancer's previous file.

// swapAll swaps every process of the ring to file; kind names the operation in the record.
func (b *Balancer) swapAll(ctx context.Context, kind, file string) (admin.SwapRecord, error) {
	b.scaleMu.Lock()
	defer b.scaleMu.Unlock()
	rec := admin.SwapRecord{Kind: kind, File: file, Started: time.Now()}
	b.setMu.Lock()
	rec.From = b.setName
	current := b.spec.file()
	b.setMu.Unlock()
	fail := func(err error) (admin.SwapRecord, error) {
		rec.Result, rec.Error = admin.ResultFailed, err.Error()
		rec.Millis = float64(time.Since(rec.Started).Microseconds()) / 1000
		b.logger.Warn("swap through the balancer refused", "kind", kind, "file", file, "err", err)
		return rec, err
	}
	if b.draining.Load() {
		return fail(errors.New("the balancer is shutting down"))
	}
	var procs []*child
	for _, n := range b.ring.Load().Members() {
		c := b.child(n)
		if c == nil || c.State() != StateReady {
			return fail(fmt.Errorf("process %02d is not ready; swap refused so that every process runs the same set", n))
		}
		procs = append(procs, c)
	}
	var done []*child
	for _, c := range procs {
		r, err := admin.NewClient(admin.DefaultSocket(c.addr), "").Swap(ctx, file)
		if err != nil {
			rec.Steps = append(rec.Steps, fmt.Sprintf("p%02d refused: %v", c.number, err))
			for i := len(done) - 1; i >= 0; i-- {
				back := done[i]
				if _, berr := admin.NewClient(admin.DefaultSocket(back.addr), "").Swap(context.WithoutCancel(ctx), current); berr != nil {
					rec.Steps = append(rec.Steps, fmt.Sprintf("p%02d could not be swapped back: %v", back.number, berr))
				} else {
					rec.Steps = append(rec.Steps, fmt.Sprintf("p%02d swapped back to %s", back.number, current))
				}
			}
			return fail(fmt.Errorf("process %02d: %w", c.number, err))
		}
		done = append(done, c)
		rec.To = r.To
		rec.Steps = append(rec.Steps, fmt.Sprintf("p%02d: %s -> %s in %.0f ms", c.number, r.From, r.To, r.Millis))
	}
	b.setMu.Lock()
	if file != current {
		b.previousFile, b.previousName = current, rec.From
	}
	b.setName, b.setSince = rec.To, time.Now()
	b.spec.setFile(file)
	b.setMu.Unlock()
	rec.Result = admin.ResultOK
	rec.Millis = float64(time.Since(rec.Started).Microseconds()) / 1000
	b.logger.Info("plugin set swapped in every process", "kind", kind, "from", rec.From, "to", rec.To, "ms", rec.Millis)
	return rec, nil
}

// Swap swaps every process to file.
func (b *Balancer) Swap(ctx context.Context, file string) (admin.SwapRecord, error) {
	return b.swapAll(ctx, admin.KindSwap, file)
}

// Rollback swaps every process back to the file they ran before the last swap.
func (b *Balancer) Rollback(ctx context.Context) (admin.SwapRecord, error) {
	b.setMu.Lock()
	prev := b.previousFile
	b.setMu.Unlock()
	if prev == "" {
		err := errors.New("no previous plugin set to roll back to")
		return admin.SwapRecord{Kind: admin.KindRollback, Started: time.Now(), Result: admin.ResultFailed, Error: err.Error()}, err
	}
	return b.swapAll(ctx, admin.KindRollback, prev)
}

// Reload swaps every process to the current file, read again.
func (b *Balancer) Reload(ctx context.Context) (admin.SwapRecord, error) {
	return b.swapAll(ctx, admin.KindReload, b.spec.file())
}
