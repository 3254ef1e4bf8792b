package pages

import (
	"sync"

	"github.com/gnrhost/gnrhost/host/session"
)

// PushBuffers holds the push buffer (outbox) of every page this host process serves, by
// page id. It outlives a plugin set: a swap gives the next set's page manager the same
// buffers, so open WebSocket connections keep their numbering and go on receiving what
// the next set's pages push.
type PushBuffers struct {
	mu    sync.RWMutex
	boxes map[string]*outbox
	order []string // creation order, for eviction
	// tag marks the dbevent reasons this host process sends, so its registry watchers
	// (one per set, two during a swap) skip the notices it delivered itself.
	tag string
}

// NewPushBuffers makes an empty set of push buffers.
func NewPushBuffers() *PushBuffers {
	return &PushBuffers{boxes: map[string]*outbox{}, tag: "gnrhost:" + session.NewID()[:8] + ":"}
}

// get returns the page's buffer, creating it (and evicting the oldest when there are
// too many).
func (b *PushBuffers) get(pageID string) *outbox {
	b.mu.RLock()
	o, ok := b.boxes[pageID]
	b.mu.RUnlock()
	if ok {
		return o
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if o, ok := b.boxes[pageID]; ok {
		return o
	}
	for len(b.boxes) >= maxOutboxes && len(b.order) > 0 {
		if old := b.boxes[b.order[0]]; old != nil {
			old.gone.Store(true)
		}
		delete(b.boxes, b.order[0])
		b.order = b.order[1:]
	}
	o = newOutbox(DefaultOutboxSize)
	b.boxes[pageID] = o
	b.order = append(b.order, pageID)
	return o
}

// restore makes the buffer of a page rebuilt from its snapshot: the snapshot's epoch,
// numbering on after lastSeq, so its client resumes where it was. A buffer this process
// still holds for the page is kept as it is.
func (b *PushBuffers) restore(pageID, epoch string, lastSeq uint64) *outbox {
	b.mu.Lock()
	if o, ok := b.boxes[pageID]; ok {
		b.mu.Unlock()
		return o
	}
	b.mu.Unlock()
	o := b.get(pageID)
	o.mu.Lock()
	if o.next == 1 && o.count == 0 && epoch != "" {
		o.epoch, o.next, o.floor = epoch, lastSeq+1, lastSeq
	}
	o.mu.Unlock()
	return o
}

// drop removes the page's buffer and tells its WebSocket connections the page is gone.
func (b *PushBuffers) drop(pageID string) {
	b.mu.Lock()
	box := b.boxes[pageID]
	if box != nil {
		box.gone.Store(true)
	}
	delete(b.boxes, pageID)
	// Keep the eviction order from growing with pages that are long gone.
	if len(b.order) > 2*len(b.boxes)+1024 {
		kept := b.order[:0]
		for _, id := range b.order {
			if _, ok := b.boxes[id]; ok {
				kept = append(kept, id)
			}
		}
		b.order = kept
	}
	b.mu.Unlock()
	if box != nil {
		box.shut() // tells the page's WebSocket connections
	}
}
