package pages

import (
	"encoding/json"
	"sync"
)

// Push is one message for a page's client, numbered per page so a client that
// reconnects can ask for what it missed.
type Push struct {
	Seq  uint64          `json:"seq"`
	Data json.RawMessage `json:"data"`
}

// outbox keeps the last pushes of one page in a bounded ring (the resume buffer).
type outbox struct {
	mu   sync.Mutex
	next uint64
	ring []Push
	max  int
	// notify is closed and replaced on every push, so waiters (the WebSocket writer)
	// can wait for news without polling.
	notify chan struct{}
}

func newOutbox(max int) *outbox {
	return &outbox{next: 1, max: max, notify: make(chan struct{})}
}

func (o *outbox) add(data []byte) uint64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	p := Push{Seq: o.next, Data: json.RawMessage(data)}
	o.next++
	if len(o.ring) == o.max {
		copy(o.ring, o.ring[1:])
		o.ring = o.ring[:o.max-1]
	}
	o.ring = append(o.ring, p)
	close(o.notify)
	o.notify = make(chan struct{})
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
