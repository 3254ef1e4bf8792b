package pages

import (
	"sync"
)

// perShardQueue bounds the dbevent deliveries waiting in one dispatcher shard.
const perShardQueue = 4096

type delivery struct {
	pageID string
	input  []byte
	// shared, with page, is the outcome of one event call shared by many pages (feature
	// SHARED_EVENTS): the page gets it in its turn, so its events stay in order.
	shared *sharedEvent
	page   *residentPage
}

// dispatcher runs dbevent deliveries on a fixed set of workers. A page always lands on
// the same shard, so its events run one at a time in the order they were published; a
// burst to many pages spreads over all shards. Queues are bounded: a delivery that finds
// its shard full is refused (and counted), never piled up.
type dispatcher struct {
	shards []chan delivery
	wg     sync.WaitGroup
	mu     sync.RWMutex
	closed bool
}

func newDispatcher(workers int, run func(delivery)) *dispatcher {
	d := &dispatcher{shards: make([]chan delivery, max(workers, 1))}
	for i := range d.shards {
		ch := make(chan delivery, perShardQueue)
		d.shards[i] = ch
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			for dl := range ch {
				run(dl)
			}
		}()
	}
	return d
}

// pageHash is FNV-1a of a page id, inline so that spreading a fan-out over the shards
// allocates nothing.
func pageHash(id string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(id); i++ {
		h ^= uint32(id[i])
		h *= 16777619
	}
	return h
}

func (d *dispatcher) send(dl delivery) bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return false
	}
	select {
	case d.shards[pageHash(dl.pageID)%uint32(len(d.shards))] <- dl:
		return true
	default:
		return false
	}
}

// close stops taking deliveries, runs those queued, and waits for the workers.
func (d *dispatcher) close() {
	d.mu.Lock()
	if !d.closed {
		d.closed = true
		for _, ch := range d.shards {
			close(ch)
		}
	}
	d.mu.Unlock()
	d.wg.Wait()
}
