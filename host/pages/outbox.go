package pages

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"sync"
	"sync/atomic"
)

// Push is one message for a page's client, numbered per page so a client that
// reconnects can ask for what it missed.
type Push struct {
	Seq  uint64          `json:"seq"`
	Data json.RawMessage `json:"data"`
}

// outbox keeps the last pushes of one page in a bounded ring: the resume buffer, shared
// by every connection of the page (a push is stored once, however many clients read it).
//
// A fan-out adds one push to each of thousands of outboxes, so add allocates nothing
// of its own: the ring is circular (no shifting once full), the channel for waiters is
// made only when someone waits, and the subscriber list is copied on change, not on
// every push.
type outbox struct {
	mu sync.Mutex
	// epoch names this buffer's numbering: a client that saw pushes of another epoch (a
	// restarted host) cannot resume and must reload.
	epoch string
	next  uint64
	// floor: pushes up to it were made by another process before this one rebuilt the
	// page from its snapshot (persist); they are not here, so a client behind it reloads.
	floor uint64
	// ring holds the kept pushes oldest first from head, count of them.
	ring  []Push
	head  int
	count int
	bytes int
	max   int
	// notify, when a waiter asked for it, is closed at the next push.
	notify chan struct{}
	// subs are called (without the lock, must not block) after every push. The slice is
	// replaced, never changed in place, so add can call a snapshot without copying it.
	subs   []subscriber
	nextID uint64
	// closed is set when the page goes away; subscribers are called once more to see it.
	closed bool
	// gone is set when the manager no longer holds this buffer (the page was dropped, or
	// its buffer evicted): a page that remembered it must look its buffer up again.
	gone atomic.Bool
}

type subscriber struct {
	id uint64
	fn func()
}

func newOutbox(size int) *outbox {
	var b [9]byte
	_, _ = rand.Read(b[:])
	return &outbox{epoch: base64.RawURLEncoding.EncodeToString(b[:]), next: 1, max: max(size, 1)}
}

// resumable reports whether a client that last saw push seq can be given everything
// after it: nothing it needs has left the ring or was made before the floor, and it has
// not seen numbers this buffer has not made yet (a snapshot older than what the client
// saw: the numbers would repeat). The caller holds mu.
func (o *outbox) resumable(seq uint64) bool {
	if seq < o.floor || seq >= o.next {
		return false
	}
	return o.count == 0 || o.at(0).Seq <= seq+1
}

// at is the i-th kept push, oldest first; the caller holds mu.
func (o *outbox) at(i int) *Push { return &o.ring[(o.head+i)%len(o.ring)] }

func (o *outbox) add(data []byte) uint64 {
	o.mu.Lock()
	p := Push{Seq: o.next, Data: json.RawMessage(data)}
	o.next++
	switch {
	case o.count < len(o.ring):
		*o.at(o.count) = p
		o.count++
	case len(o.ring) < o.max:
		// Grow up to max: most pages never keep many pushes.
		ring := make([]Push, min(max(2*len(o.ring), 4), o.max))
		for i := range o.count {
			ring[i] = *o.at(i)
		}
		o.ring, o.head = ring, 0
		o.ring[o.count] = p
		o.count++
	default:
		// Full: the oldest push leaves.
		oldest := o.at(0)
		o.bytes -= len(oldest.Data)
		*oldest = p
		o.head = (o.head + 1) % len(o.ring)
	}
	o.bytes += len(data)
	if o.notify != nil {
		close(o.notify)
		o.notify = nil
	}
	subs := o.subs
	o.mu.Unlock()
	for _, s := range subs {
		s.fn()
	}
	return p.Seq
}

// since returns the pushes after seq; complete is false when some were already dropped
// from the ring (the client must reload rather than silently miss them). wait is closed
// at the next push.
func (o *outbox) since(seq uint64) (pushes []Push, complete bool, wait <-chan struct{}) {
	o.mu.Lock()
	defer o.mu.Unlock()
	complete = o.resumable(seq)
	for i := range o.count {
		if p := o.at(i); p.Seq > seq {
			pushes = append(pushes, *p)
		}
	}
	if o.notify == nil {
		o.notify = make(chan struct{})
	}
	return pushes, complete, o.notify
}

// each calls fn, under the lock, for every push after seq (oldest first) unless the
// outbox is closed or they are incomplete, more than maxN pushes or more than maxBytes
// bytes of data; it returns that backlog.
func (o *outbox) each(seq uint64, maxN, maxBytes int, fn func(Push)) Backlog {
	o.mu.Lock()
	defer o.mu.Unlock()
	b := Backlog{Closed: o.closed, Complete: o.resumable(seq)}
	first := o.count
	for i := o.count - 1; i >= 0; i-- {
		p := o.at(i)
		if p.Seq <= seq {
			break
		}
		first = i
		b.N++
		b.Bytes += len(p.Data)
	}
	if b.N == 0 || b.Closed || !b.Complete || b.N > maxN || b.Bytes > maxBytes {
		return b
	}
	for i := first; i < o.count; i++ {
		fn(*o.at(i))
	}
	return b
}

// pending is how many pushes and bytes come after seq.
func (o *outbox) pending(seq uint64) (n, bytes int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := o.count - 1; i >= 0; i-- {
		p := o.at(i)
		if p.Seq <= seq {
			break
		}
		n++
		bytes += len(p.Data)
	}
	return n, bytes
}

func (o *outbox) subscribe(fn func()) (unsubscribe func()) {
	o.mu.Lock()
	defer o.mu.Unlock()
	id := o.nextID
	o.nextID++
	o.subs = append(o.subs[:len(o.subs):len(o.subs)], subscriber{id: id, fn: fn})
	return func() {
		o.mu.Lock()
		defer o.mu.Unlock()
		kept := make([]subscriber, 0, len(o.subs))
		for _, s := range o.subs {
			if s.id != id {
				kept = append(kept, s)
			}
		}
		o.subs = kept
	}
}

// shut marks the outbox closed (its page is gone) and tells the subscribers.
func (o *outbox) shut() {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return
	}
	o.closed = true
	subs := o.subs
	o.mu.Unlock()
	for _, s := range subs {
		s.fn()
	}
}

func (o *outbox) isClosed() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.closed
}

func (o *outbox) state() (epoch string, last uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.epoch, o.next - 1
}
