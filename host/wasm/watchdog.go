package wasm

import (
	"context"
	"sync"
	"time"
)

// Deadlines without a timer per call.
//
// wazero stops a running guest when the context of its call is done (the runtime is made
// WithCloseOnContextDone, which compiles a check into every loop and function entry).
// A context.WithTimeout per call costs a timer, a context and its channel, and most calls
// end in microseconds. Instead each instance owns one kill channel, which is the Done
// channel of every call it runs, and one watchdog goroutine per module closes it when a
// call overruns its deadline or its caller's context ends. An instance whose kill channel
// was closed is never reused, so the channel never needs to be remade.

// Why a call was stopped by the watchdog.
const (
	notKilled = iota
	killedDeadline
	killedCanceled
)

// minTick and maxTick bound how often the watchdog looks at running calls: a call may
// overrun its deadline by up to one tick (timeout/20, so 5% of it).
const (
	minTick = time.Millisecond
	maxTick = 50 * time.Millisecond
)

func watchTick(timeout time.Duration) time.Duration {
	return min(max(timeout/20, minTick), maxTick)
}

// watch is the deadline bookkeeping of one instance; the watchdog and the call share it.
type watch struct {
	mu       sync.Mutex
	parent   context.Context // the caller's context; nil while the instance is idle
	deadline time.Time
	killed   int
	// kill is the Done channel of every call on this instance, closed (once) to stop one.
	kill chan struct{}
}

func newWatch() watch { return watch{kill: make(chan struct{})} }

// begin marks a call running until deadline on behalf of parent.
func (w *watch) begin(parent context.Context, deadline time.Time) {
	w.mu.Lock()
	w.parent, w.deadline = parent, deadline
	w.mu.Unlock()
}

// end marks the instance idle and says whether (and why) the watchdog stopped the call.
// A killed instance must be discarded even when its call happened to finish.
func (w *watch) end() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.parent = nil
	return w.killed
}

// expire stops the running call when it is past its deadline or its caller gave up.
func (w *watch) expire(now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.parent == nil || w.killed != notKilled {
		return
	}
	switch {
	case !now.Before(w.deadline):
		w.killed = killedDeadline
	case w.parent.Err() != nil:
		w.killed = killedCanceled
	default:
		return
	}
	close(w.kill)
}

func (w *watch) err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch w.killed {
	case killedDeadline:
		return context.DeadlineExceeded
	case killedCanceled:
		// parent is nil once the call is over (wazero's watcher may ask late).
		if w.parent != nil {
			if err := w.parent.Err(); err != nil {
				return err
			}
		}
		return context.Canceled
	}
	return nil
}

// watchdog closes the kill channel of calls that overran. It ticks while calls run and
// sleeps once a whole tick went by without one, so an idle module costs nothing and a
// busy one costs no wake-up per call. It exits when the module has closed and every call
// has given its slot back.
func (m *Module) watchdog() {
	defer close(m.watchDone)
	t := time.NewTicker(m.tick)
	defer t.Stop()
	var seen uint64
	for {
		select {
		case now := <-t.C:
			for i := range m.active {
				if inst := m.active[i].Load(); inst != nil {
					inst.watch.expire(now)
				}
			}
		case <-m.stopWatch:
			return
		}
		started := m.started.Load()
		if m.running.Load() > 0 || started != seen {
			seen = started
			continue
		}
		// Idle for a whole tick: sleep until a call starts. A call that starts after
		// sleeping is set clears it and sends a wake; one that started just before is
		// seen by the second look at running.
		t.Stop()
		m.sleeping.Store(true)
		if m.running.Load() == 0 {
			select {
			case <-m.wake:
			case <-m.stopWatch:
				return
			}
		} else if !m.sleeping.CompareAndSwap(true, false) {
			<-m.wake // a starting call cleared sleeping: its wake is on the way
		}
		seen = m.started.Load()
		t.Reset(m.tick)
	}
}

// startWatch and stopWatching bracket one call in slot for the watchdog.
func (m *Module) startWatch(slot int, inst *instance) {
	m.active[slot].Store(inst)
	m.started.Add(1)
	m.running.Add(1)
	if m.sleeping.Load() && m.sleeping.CompareAndSwap(true, false) {
		m.wake <- struct{}{} // buffered, and only the one who cleared sleeping sends
	}
}

func (m *Module) stopWatching(slot int) {
	m.running.Add(-1)
	m.active[slot].Store(nil)
}
