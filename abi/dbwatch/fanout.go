package dbwatch

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/gnrhost/gnrhost/abi"
)

// Buffer bounds each watcher's backlog: a watcher this far behind is not keeping up,
// and NotifyDbEvents (on the db commit path) must not wait for it.
const Buffer = 256

// Fanout is a set of watchers. The zero value is ready to use.
type Fanout struct {
	// mu is a RWMutex so broadcasts, the common operation, run side by side.
	mu      sync.RWMutex
	set     map[*watcher]struct{}
	closed  bool
	dropped atomic.Uint64
}

type watcher struct {
	ch   chan abi.DbEventNotice
	stop func() bool // stops the context.AfterFunc that would remove the watcher
}

// Add registers a watcher until ctx ends or Close; ok is false after Close.
func (f *Fanout) Add(ctx context.Context) (ch <-chan abi.DbEventNotice, ok bool) {
	w := &watcher{ch: make(chan abi.DbEventNotice, Buffer)}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, false
	}
	if f.set == nil {
		f.set = map[*watcher]struct{}{}
	}
	f.set[w] = struct{}{}
	// AfterFunc instead of a goroutine per watcher: nothing runs until ctx ends, and
	// Close can cancel it. Set under mu so Close never reads a half-built watcher.
	w.stop = context.AfterFunc(ctx, func() { f.remove(w) })
	return w.ch, true
}

// Broadcast sends each notice to every watcher, a copy each (watchers may keep or
// change what they get), dropping it for a watcher whose buffer is full.
func (f *Fanout) Broadcast(notices []abi.DbEventNotice) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	for w := range f.set {
		for _, n := range notices {
			select {
			case w.ch <- Copy(n):
			default:
				f.dropped.Add(1)
			}
		}
	}
}

// Dropped counts the notices lost because a watcher's buffer was full.
func (f *Fanout) Dropped() uint64 { return f.dropped.Load() }

// Close ends every watcher (its channel closes) and refuses new ones.
func (f *Fanout) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	for w := range f.set {
		w.stop()
		delete(f.set, w)
		close(w.ch)
	}
}

func (f *Fanout) remove(w *watcher) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.set[w]; ok {
		delete(f.set, w)
		close(w.ch)
	}
}

// Copy returns n with its own events (data included) and page ids.
func Copy(n abi.DbEventNotice) abi.DbEventNotice {
	events := make([]abi.DbEvent, len(n.Events))
	for i, ev := range n.Events {
		ev.Data = append([]byte(nil), ev.Data...)
		events[i] = ev
	}
	n.Events = events
	n.PageIDs = append([]string(nil), n.PageIDs...)
	return n
}
