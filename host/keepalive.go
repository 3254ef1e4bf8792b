package host

import (
	"context"
	"time"

	"github.com/gnrhost/gnrhost/abi"
)

// defaultKeepalive is how often the pages and connections of open WebSockets are
// touched in the registry: well within the shortest default expiry (a guest connection,
// 40 s), so an open page whose user is only reading is not expired under it. (A legacy
// client does the same with its /_ping polls.)
const defaultKeepalive = 10 * time.Second

// keepalive refreshes, until ctx ends, the registry items behind every open socket.
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
		conns := map[string]bool{}
		for _, s := range rt.ws.Open() {
			if ctx.Err() != nil {
				return
			}
			cctx, cancel := context.WithTimeout(ctx, shortTimeout)
			if !conns[s.ConnectionID] {
				conns[s.ConnectionID] = true
				_ = reg.Touch(cctx, abi.ItemRef{Register: abi.RegisterConnection, ID: s.ConnectionID}, abi.RefreshPing)
			}
			_ = reg.Touch(cctx, abi.ItemRef{Register: abi.RegisterPage, ID: s.PageID}, abi.RefreshPing)
			cancel()
		}
	}
}
