package pages

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gnrhost/gnrhost/abi"
)

// Handoff hands every resident page over to whoever serves next (a swapped-in plugin
// set): it waits for each page's call in progress, writes its store into the registry,
// and forgets the page without running its close entry or dropping its registry item.
// The next set finds the pages in the registry: an ephemeral one rebuilds them per
// request, a resident one promotes them on first use. A page handed over answers
// ErrPageNotFound here afterwards. It returns how many pages it saved.
func (m *Manager) Handoff(ctx context.Context) (int, error) {
	m.mu.Lock()
	pages := make([]*residentPage, 0, len(m.resident))
	for _, p := range m.resident {
		pages = append(pages, p)
	}
	m.mu.Unlock()
	var errs []error
	saved := 0
	for _, p := range pages {
		if err := ctx.Err(); err != nil {
			return saved, fmt.Errorf("hand over resident pages: %d of %d saved: %w", saved, len(pages), err)
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			continue
		}
		data := p.store.snapshot()
		err := m.cfg.Registry.ReplaceStore(ctx, abi.ItemRef{Register: abi.RegisterPage, ID: p.ref.ID}, data)
		if err != nil && !isNotFound(err) {
			p.mu.Unlock()
			errs = append(errs, fmt.Errorf("page %s: %w", p.ref.ID, err))
			continue
		}
		p.closed = true
		p.mu.Unlock()
		m.forgetResident(p)
		saved++
	}
	if len(errs) > 0 {
		return saved, fmt.Errorf("hand over resident pages: %w", errors.Join(errs...))
	}
	return saved, nil
}

// snapshot copies the store for the registry.
func (s *store) snapshot() map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(s.data))
	for k, v := range s.data {
		out[k] = append(json.RawMessage(nil), v...)
	}
	return out
}
