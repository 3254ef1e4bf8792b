package legacy

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"
)

// watchdog ends exchanges with the site that must not go on: the client went away, or
// the site is slower to answer than the response-header timeout. It does so by closing
// their connection, which ends whatever wait is under way on it.
//
// Why not a read deadline and a context.AfterFunc per request: those are two timer
// updates, a callback registration and three allocations on every request, ~2.7 µs of
// CPU that the Python workers need more (profile of bench/legacy.sh). Here a request
// links itself into a list under a mutex, and one goroutine looks at the list every
// tick while requests are in flight, and exits when there are none.
type watchdog struct {
	tick  time.Duration
	epoch time.Time // deadlines are monotonic offsets from it

	mu      sync.Mutex
	head    *upConn // exchanges in flight, linked through upConn.prev/next
	running bool
}

func newWatchdog(headerTimeout time.Duration) *watchdog {
	// Fine enough for the timeout (an eighth of it) and for noticing a gone client.
	tick := min(max(headerTimeout/8, 5*time.Millisecond), 100*time.Millisecond)
	return &watchdog{tick: tick, epoch: time.Now()}
}

// now is the monotonic clock in the unit of the deadlines.
func (wd *watchdog) now() time.Duration { return time.Since(wd.epoch) }

// watch starts watching the exchange on uc for the client's ctx.
func (wd *watchdog) watch(uc *upConn, ctx context.Context) {
	wd.mu.Lock()
	uc.ctx, uc.killed = ctx, false
	uc.timedOut.Store(false)
	uc.prev, uc.next = nil, wd.head
	if wd.head != nil {
		wd.head.prev = uc
	}
	wd.head = uc
	if !wd.running {
		wd.running = true
		go wd.run()
	}
	wd.mu.Unlock()
}

// unwatch stops watching uc and reports whether the watchdog closed its connection.
func (wd *watchdog) unwatch(uc *upConn) (killed bool) {
	wd.mu.Lock()
	if uc.prev != nil {
		uc.prev.next = uc.next
	} else {
		wd.head = uc.next
	}
	if uc.next != nil {
		uc.next.prev = uc.prev
	}
	uc.prev, uc.next, uc.ctx = nil, nil, nil
	killed = uc.killed
	wd.mu.Unlock()
	return killed
}

func (wd *watchdog) run() {
	t := time.NewTicker(wd.tick)
	defer t.Stop()
	for range t.C {
		now := wd.now()
		wd.mu.Lock()
		if wd.head == nil {
			wd.running = false
			wd.mu.Unlock()
			return
		}
		for uc := wd.head; uc != nil; uc = uc.next {
			if uc.killed {
				continue
			}
			uc.mu.Lock()
			late := uc.deadline != 0 && now > uc.deadline
			uc.mu.Unlock()
			if late || uc.ctx.Err() != nil {
				uc.killed = true
				uc.timedOut.Store(late)
				_ = uc.c.Close()
			}
		}
		wd.mu.Unlock()
	}
}

// errHeaderTimeout is a timeout (net.Error) for the 504 answer.
var errHeaderTimeout = fmt.Errorf("legacy: no answer within the response-header timeout: %w", os.ErrDeadlineExceeded)
