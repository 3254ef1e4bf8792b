package registrypyro

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/plugins/registry-pyro/internal/pyro"
)

// Sweep applies the contract's expiry rule at time now, from here: it reads the three
// registers in one batch and drops what is too old. gnrdaemon also expires items by
// itself (its cleanup, with the site's own max ages); this lets the host sweep with an
// explicit clock, as the contract asks.
func (r *Registry) Sweep(ctx context.Context, now time.Time) (abi.Expired, error) {
	var exp abi.Expired
	err := r.do(ctx, "Sweep", false, func(ctx context.Context, s *site) error {
		res, err := s.register.Batch(ctx, []pyro.BatchCall{
			{Method: "values", Kwargs: reg(abi.RegisterPage, nil)},
			{Method: "values", Kwargs: reg(abi.RegisterConnection, nil)},
			{Method: "values", Kwargs: reg(abi.RegisterUser, nil)},
		})
		if err != nil {
			return err
		}
		pages, err := itemsFrom(abi.RegisterPage, res[0], abi.ItemFilter{})
		if err != nil {
			return err
		}
		conns, err := itemsFrom(abi.RegisterConnection, res[1], abi.ItemFilter{})
		if err != nil {
			return err
		}
		users, err := itemsFrom(abi.RegisterUser, res[2], abi.ItemFilter{})
		if err != nil {
			return err
		}
		exp = r.expired(now, pages, conns, users)
		var drops []pyro.BatchCall
		for _, id := range exp.Pages {
			drops = append(drops, pyro.BatchCall{Method: "drop_item", Args: []any{id}, Kwargs: reg(abi.RegisterPage, nil)})
		}
		for _, id := range exp.Connections {
			drops = append(drops, pyro.BatchCall{Method: "drop_item", Args: []any{id}, Kwargs: reg(abi.RegisterConnection, nil)})
		}
		for _, id := range exp.Users {
			drops = append(drops, pyro.BatchCall{Method: "drop_item", Args: []any{id}, Kwargs: reg(abi.RegisterUser, nil)})
		}
		if len(drops) == 0 {
			return nil
		}
		if _, err := s.register.Batch(ctx, drops); err != nil {
			return fmt.Errorf("drop expired items: %w", err)
		}
		return nil
	})
	return exp, err
}

// expired decides what goes: pages and connections not refreshed within their max age
// (guest connections have a shorter one), the pages of an expired connection, and users
// left without a connection, as registry-mem decides.
func (r *Registry) expired(now time.Time, pages, conns, users []abi.Item) abi.Expired {
	last := func(it abi.Item) time.Time {
		if it.LastRefreshTS.After(it.StartTS) {
			return it.LastRefreshTS
		}
		return it.StartTS
	}
	var exp abi.Expired
	goneConn := map[string]bool{}
	liveUsers := map[string]bool{}
	lostLast := map[string]bool{}
	for _, c := range conns {
		maxAge := r.cfg.ConnectionMaxAge
		if c.Guest {
			maxAge = r.cfg.GuestConnectionMaxAge
		}
		if now.Sub(last(c)) > maxAge {
			goneConn[c.ID] = true
			lostLast[c.User] = true
			exp.Connections = append(exp.Connections, c.ID)
			continue
		}
		liveUsers[c.User] = true
	}
	for _, p := range pages {
		if goneConn[p.ConnectionID] || now.Sub(last(p)) > r.cfg.PageMaxAge {
			exp.Pages = append(exp.Pages, p.ID)
		}
	}
	// A user goes with its last connection; one that never had a connection gets the
	// connection max age to make its first (a login registers the user just before).
	for _, u := range users {
		if !liveUsers[u.ID] && (lostLast[u.ID] || now.Sub(last(u)) > r.cfg.ConnectionMaxAge) {
			exp.Users = append(exp.Users, u.ID)
		}
	}
	slices.Sort(exp.Pages)
	slices.Sort(exp.Connections)
	slices.Sort(exp.Users)
	return exp
}
