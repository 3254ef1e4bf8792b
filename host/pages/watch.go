package pages

import (
	"context"
	"strings"
	"time"

	"github.com/gnrhost/gnrhost/abi"
)

// watchRegistry delivers the dbevents that others notify through the registry (the
// legacy site through gnrdaemon, another host sharing the registry) to this host's
// pages. Notices this host sent itself are skipped: Notify delivered them already.
func (m *Manager) watchRegistry() {
	defer close(m.watchDone)
	backoff := 100 * time.Millisecond
	for {
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			select {
			case <-m.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		ch, err := m.cfg.Registry.WatchDbEvents(ctx)
		if err == nil {
			backoff = 100 * time.Millisecond
			for n := range ch {
				if strings.HasPrefix(n.Reason, m.reasonPrefix) {
					continue
				}
				m.deliverNotice(n, m.runsHere)
			}
		}
		cancel()
		// The watch ended: the host is closing, or the registry plugin restarted.
		select {
		case <-m.stop:
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// runsHere reports whether this host holds the page or can rebuild it (its route is one
// of this set's), so a notice for another host's pages costs no registry lookups later.
func (m *Manager) runsHere(id string) bool {
	if m.lookupResident(id) != nil {
		return true
	}
	item, err := m.cfg.Registry.GetItem(context.Background(), abi.ItemRef{Register: abi.RegisterPage, ID: id}, false)
	return err == nil && m.routes[item.PageName] != nil
}
