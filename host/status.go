package host

import (
	"context"
	"slices"

	"github.com/gnrhost/gnrhost/host/admin"
	"github.com/gnrhost/gnrhost/host/pluginset"
)

// Status describes the running set for `gnrhost status` and the admin page.
func (rt *Runtime) Status(ctx context.Context) admin.Status {
	g := rt.cur.Load()
	h := g.host
	st := admin.Status{Set: setInfo(h.set)}
	st.Set.Since = g.since
	for _, p := range h.Plugins() {
		st.Plugins = append(st.Plugins, admin.PluginStatus{Slot: p.Slot, Plugin: p.Plugin, Mode: p.Mode,
			State: string(p.State), PID: p.PID, Restarts: p.Restarts, LastError: p.LastError})
	}
	cctx, cancel := context.WithTimeout(ctx, shortTimeout)
	defer cancel()
	if c, err := h.registry.Counters(cctx); err != nil {
		st.RegistryError = err.Error()
	} else {
		st.Pages, st.Connections, st.Users = c.Pages, c.Connections, c.Users
	}
	st.ResidentPages = h.pages.ResidentCount()
	st.WebSockets = h.ws.Count()
	rt.infoMu.Lock()
	if rt.previous != nil {
		p := setInfo(rt.previous)
		st.Previous = &p
	}
	st.Swaps = slices.Clone(rt.history)
	rt.infoMu.Unlock()
	if st.Swaps == nil {
		st.Swaps = []admin.SwapRecord{}
	}
	return st
}

func setInfo(s *pluginset.Set) admin.SetInfo {
	info := admin.SetInfo{Name: s.Name, File: s.Path, Registry: s.Registry.Plugin}
	if s.Legacy != nil {
		info.Legacy = s.Legacy.Plugin
	}
	if len(s.Pages) > 0 {
		info.PageRoutes = map[string]int{}
		for _, p := range s.Pages {
			info.PageRoutes[string(p.Lifecycle)]++
		}
	}
	return info
}
