package registrymem

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"time"

	"github.com/gnrhost/gnrhost/abi"
)

// lastSeen is the time expiry counts from: the last refresh, or the start for an item
// never refreshed (entries always have both, but a zero refresh must not mean "ancient").
func lastSeen(it abi.Item) time.Time {
	if it.LastRefreshTS.IsZero() {
		return it.StartTS
	}
	return it.LastRefreshTS
}

// Sweep expires pages, connections (guest ones sooner) with their pages, and users left
// without a connection; see the package doc for the user rule.
func (r *Registry) Sweep(ctx context.Context, now time.Time) (abi.Expired, error) {
	if err := r.begin(ctx); err != nil {
		return abi.Expired{}, wrap("sweep", err)
	}
	pageAge := r.cfg.PageMaxAge.D()
	connAge := r.cfg.ConnectionMaxAge.D()
	guestAge := r.cfg.GuestConnectionMaxAge.D()

	var exp abi.Expired
	r.mu.Lock()
	for id, e := range r.regs[abi.RegisterPage] {
		if now.Sub(lastSeen(e.item)) > pageAge {
			exp.Pages = append(exp.Pages, r.dropPage(id)...)
		}
	}
	lostLast := map[string]bool{}
	for id, e := range r.regs[abi.RegisterConnection] {
		maxAge := connAge
		if e.item.Guest {
			maxAge = guestAge
		}
		if now.Sub(lastSeen(e.item)) > maxAge {
			exp.Connections = append(exp.Connections, id)
			exp.Pages = append(exp.Pages, r.dropConnection(id, true)...)
			lostLast[e.item.User] = true
		}
	}
	connected := map[string]bool{}
	for _, e := range r.regs[abi.RegisterConnection] {
		connected[e.item.User] = true
	}
	for id, e := range r.regs[abi.RegisterUser] {
		if connected[id] {
			continue
		}
		if lostLast[id] || now.Sub(lastSeen(e.item)) > connAge {
			r.dropUser(id, false)
			exp.Users = append(exp.Users, id)
		}
	}
	r.mu.Unlock()

	sort.Strings(exp.Pages)
	sort.Strings(exp.Connections)
	sort.Strings(exp.Users)
	return exp, nil
}

// sweepLoop runs Sweep every SweepInterval until ctx (cancelled by Close) ends.
func (r *Registry) sweepLoop(ctx context.Context) {
	defer close(r.sweeperDone)
	t := time.NewTicker(r.cfg.SweepInterval.D())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		exp, err := r.Sweep(ctx, time.Now())
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, abi.ErrUnavailable) {
				return
			}
			r.log.Warn("registry-mem: sweep failed", slog.Any("error", err))
			continue
		}
		if n := len(exp.Pages) + len(exp.Connections) + len(exp.Users); n > 0 {
			r.log.Info("registry-mem: expired items",
				slog.Int("pages", len(exp.Pages)),
				slog.Int("connections", len(exp.Connections)),
				slog.Int("users", len(exp.Users)))
			r.log.Debug("registry-mem: expired ids",
				slog.Any("pages", exp.Pages),
				slog.Any("connections", exp.Connections),
				slog.Any("users", exp.Users))
		}
	}
}
