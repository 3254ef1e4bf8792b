package host

import (
	"context"
	"encoding/json"
	"time"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/host/pages"
)

// defaultKeepalive is how often the pages and connections of open WebSockets are
// touched in the registry: well within the shortest default expiry (a guest connection,
// 40 s), so an open page whose user is only reading is not expired under it. (A legacy
// client does the same with its /_ping polls.)
const defaultKeepalive = 10 * time.Second

// keepalive refreshes, until ctx ends, the registry items behind every open socket, and
// hands each such page its pending registry datachanges (see deliverDatachanges).
func (rt *Runtime) keepalive(ctx context.Context) {
	t := time.NewTicker(rt.keepaliveEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		reg := rt.Current().Registry()
		conns, pagesSeen := map[string]bool{}, map[string]bool{}
		for _, s := range rt.ws.Open() {
			if ctx.Err() != nil {
				return
			}
			cctx, cancel := context.WithTimeout(ctx, shortTimeout)
			if !conns[s.ConnectionID] {
				conns[s.ConnectionID] = true
				_ = reg.Touch(cctx, abi.ItemRef{Register: abi.RegisterConnection, ID: s.ConnectionID}, abi.RefreshPing)
			}
			if !pagesSeen[s.PageID] {
				pagesSeen[s.PageID] = true
				page := abi.ItemRef{Register: abi.RegisterPage, ID: s.PageID}
				_ = reg.Touch(cctx, page, abi.RefreshPing)
				rt.deliverDatachanges(cctx, reg, page)
			}
			cancel()
		}
	}
}

// deliverDatachanges takes a page's pending registry datachanges and sends them to its
// sockets in datachanges frames: what a legacy client's /_ping collects (dbevents,
// values the legacy site set for the page). Without this a page that only listens on its
// socket, never calling an RPC (whose answer carries them), would pile them up in the
// registry for as long as it lives: one per dbevent of every table it subscribed. When
// no socket takes them (it closed meanwhile) they are put back for the next RPC.
func (rt *Runtime) deliverDatachanges(ctx context.Context, reg abi.Registry, page abi.ItemRef) {
	pending, err := reg.Datachanges(ctx, page, true)
	if err != nil || len(pending) == 0 {
		return
	}
	encoded := make([]json.RawMessage, 0, len(pending))
	for _, d := range pending {
		raw, err := json.Marshal(pages.DatachangeOf(d))
		if err != nil {
			continue
		}
		encoded = append(encoded, raw)
	}
	if rt.ws.SendDatachanges(page.ID, encoded) > 0 {
		return
	}
	for _, d := range pending {
		if _, err := reg.AppendDatachange(ctx, page, d); err != nil {
			rt.logger.Warn("datachanges not put back", "page", page.ID, "err", err)
			return
		}
	}
}
