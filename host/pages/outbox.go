package pages

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"sync"
)

// Push is one message for a page's client, numbered per page so a client that
// reconnects can ask for what it missed.
type Push struct {
	Seq  uint64          `json:"seq"`
	Data json.RawMessage `json:"data"`
}

// outbox keeps the last pushes of one page in a bounded ring: the resume buffer, shared
// by every connection of the page (a push is stored once, however many clients read it).
type outbox struct {
	mu sync.Mutex
	// epoch names this buffer's numbering: a client that saw pushes of another epoch (a
	// restarted host) cannot resume and must reload.
	epoch string
	next  uint64
	ring  []Push
	bytes int
	max   int
	// notify is closed and replaced on every push, for waiters that block.
	notify chan struct{}
	// subs are called (without the lock, must not block) after every push.
	subs   map[uint64]func()
	nextID uint64
	// closed is set when the page goes away; subscribers are called once more to see it.
	closed bool
}

func newOutbox(max int) *outbox {
	var b [9]byte
	_, _ = rand.Read(b[:])
	return &outbox{epoch: base64.RawURLEncoding.EncodeToString(b[:]), next: 1, max: max, notify: make(chan struct{}), subs: map[uint64]func(){}}
}

func (o *outbox) add(data []byte) uint64 {
	o.mu.Lock()
	p := Push{Seq: o.next, Data: json.RawMessage(data)}
	o.next++
	if len(o.ring) == o.max {
		o.bytes -= len(o.ring[0].Data)
		copy(o.ring, o.ring[1:])
		o.ring = o.ring[:o.max-1]
	}
	o.ring = append(o.ring, p)
	o.bytes += len(data)
	close(o.notify)
	o.notify = make(chan struct{})
	subs := make([]func(), 0, len(o.subs))
	for _, fn := range o.subs {
		subs = append(subs, fn)
	}
	o.mu.Unlock()
	for _, fn := range subs {
		fn()
	}
	return p.Seq
}

// since returns the pushes after seq; complete is false when some were already dropped
// from the ring (the client must reload rather than silently miss them).
func (o *outbox) since(seq uint64) (pushes []Push, complete bool, wait <-chan struct{}) {
	o.mu.Lock()
	defer o.mu.Unlock()
	complete = true
	if len(o.ring) > 0 && o.ring[0].Seq > seq+1 {
		complete = false
	}
	for _, p := range o.ring {
		if p.Seq > seq {
			pushes = append(pushes, p)
		}
	}
	return pushes, complete, o.notify
}

// pending is how many pushes and bytes come after seq.
func (o *outbox) pending(seq uint64) (n, bytes int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := len(o.ring) - 1; i >= 0 && o.ring[i].Seq > seq; i-- {
		n++
		bytes += len(o.ring[i].Data)
	}
	return n, bytes
}

func (o *outbox) subscribe(fn func()) (unsubscribe func()) {
	o.mu.Lock()
	defer o.mu.Unlock()
	id := o.nextID
	o.nextID++
	o.subs[id] = fn
	return func() {
		o.mu.Lock()
		defer o.mu.Unlock()
		delete(o.subs, id)
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
	subs := make([]func(), 0, len(o.subs))
	for _, fn := range o.subs {
		subs = append(subs, fn)
	}
	o.mu.Unlock()
	for _, fn := range subs {
		fn()
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
