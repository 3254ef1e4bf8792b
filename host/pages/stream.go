package pages

import (
	"context"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/host/session"
)

// PushStream is one client's view of a page's pushes (a WebSocket connection).
type PushStream struct {
	box *outbox
}

// Epoch and Last name the page's push numbering now.
func (s *PushStream) Epoch() string { e, _ := s.box.state(); return e }

// Last is the newest push's sequence number (0 when none).
func (s *PushStream) Last() uint64 { _, l := s.box.state(); return l }

// Since returns the pushes after seq, and false when some of them are no longer kept.
func (s *PushStream) Since(seq uint64) ([]Push, bool) {
	p, complete, _ := s.box.since(seq)
	return p, complete
}

// Pending is how many pushes (and their bytes) come after seq: a client's backlog.
func (s *PushStream) Pending(seq uint64) (int, int) { return s.box.pending(seq) }

// Backlog describes a client's pushes after the last one it was sent.
type Backlog struct {
	N, Bytes int // pushes after seq and their bytes of data
	// Complete is false when some of them were already dropped from the buffer: the
	// client cannot catch up.
	Complete bool
	// Closed: the page has gone away.
	Closed bool
}

// Each calls fn for every push after seq, oldest first, while holding the page's push
// buffer (fn must be quick and must not call back into the stream) — unless the page is
// closed or that backlog is incomplete, over maxN pushes or over maxBytes bytes of data.
// A writer encodes its frames this way, with one lock and no copy of the pushes.
func (s *PushStream) Each(seq uint64, maxN, maxBytes int, fn func(Push)) Backlog {
	return s.box.each(seq, maxN, maxBytes, fn)
}

// Closed reports whether the page has gone away (closed, expired, evicted).
func (s *PushStream) Closed() bool { return s.box.isClosed() }

// OnPush registers fn to run after every push (it must not block); call the returned
// function to stop.
func (s *PushStream) OnPush(fn func()) func() { return s.box.subscribe(fn) }

// Stream checks that caller owns page id and returns its push stream: ErrForbidden for
// another connection's page, ErrPageNotFound for an unknown one.
func (m *Manager) Stream(ctx context.Context, caller session.Identity, id string) (*PushStream, error) {
	if p := m.lookupResident(id); p != nil {
		if p.ref.ConnectionID != caller.ConnectionID {
			return nil, ErrForbidden
		}
		return &PushStream{box: m.outboxFor(id)}, nil
	}
	item, err := m.cfg.Registry.GetItem(ctx, abi.ItemRef{Register: abi.RegisterPage, ID: id}, false)
	if isNotFound(err) {
		// Perhaps a persist page of another process: rebuilt here, its client resumes.
		if _, err := m.restore(ctx, caller, id); err != nil {
			return nil, err
		}
		return &PushStream{box: m.outboxFor(id)}, nil
	}
	if err != nil {
		return nil, err
	}
	if item.ConnectionID != caller.ConnectionID {
		return nil, ErrForbidden
	}
	if m.routes[item.PageName] == nil {
		return nil, ErrPageNotFound
	}
	return &PushStream{box: m.outboxFor(id)}, nil
}
