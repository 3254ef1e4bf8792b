package pluginset

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// validate checks what the types alone cannot: names, ranges, files, cross-key rules.
func validate(s *Set, catalog Catalog, where map[string]Position, p *problemList) {
	at := func(key string) Position { return where[key] }
	if s.Version != 0 && s.Version != 1 {
		p.add(at("version"), "version", "expected 1 (the only plugin-set schema version), found %d", s.Version)
	}
	checkAddr(p, at, "listen", s.Listen)
	if s.Processes < 1 {
		p.add(at("processes"), "processes", "expected at least 1, found %d", s.Processes)
	} else if s.Processes > 1 && catalog["processes"] == nil {
		p.add(at("processes"), "processes", "more than one host process is not available in this build; expected 1")
	}
	checkSlot(p, catalog, "registry", s.Registry, at)
	checkSlot(p, catalog, "legacy", s.Legacy, at)
	if s.Legacy != nil {
		if s.Legacy.Mode == ModeProcess {
			p.add(at("legacy.mode"), "legacy.mode", "the legacy plugin runs in-process: the site's server (gunicorn) is already its own process")
		}
		for i, r := range s.Legacy.Routes {
			key := fmt.Sprintf("legacy.routes[%d]", i)
			if !strings.HasPrefix(r, "/") || strings.HasPrefix(r, "/_gnr") {
				p.add(at(key), key, "expected a path prefix starting with / and outside /_gnr, found %q", r)
			}
		}
	}
	if s.Registry != nil && len(s.Registry.Routes) > 0 {
		p.add(at("registry.routes"), "registry.routes", "only the legacy slot has routes")
	}
	checkPages(s, catalog, at, p)
	if _, ok := catalog["ipc"][s.IPC.Backend]; !ok {
		p.add(at("ipc.backend"), "ipc.backend", "unknown backend %q; expected one of: %s", s.IPC.Backend, catalog.names("ipc"))
	} else if s.IPC.Backend == "pyro" && s.Registry != nil && s.Registry.Plugin != "registry-pyro" {
		// The mailboxes live in the registry the processes share; only gnrdaemon is.
		p.add(at("ipc.backend"), "ipc.backend", "backend pyro carries events through gnrdaemon and needs registry.plugin registry-pyro, found %q", s.Registry.Plugin)
	}
	if s.IPC.Poll != 0 {
		if s.IPC.Backend != "pyro" {
			p.add(at("ipc.poll"), "ipc.poll", "only the pyro backend takes a poll interval; backend is %q", s.IPC.Backend)
		} else {
			checkDuration(p, at, "ipc.poll", s.IPC.Poll, 10*time.Millisecond, time.Minute)
		}
	}
	checkIPC(s.IPC, at, p)
	checkWebSocket(&s.WebSocket, at, p)
	checkRange(p, at, "executors.workers", s.Executors.Workers, 1, 4096)
	checkRange(p, at, "executors.queue", s.Executors.Queue, 0, 1<<20)
	checkRange(p, at, "limits.max_body_bytes", s.Limits.MaxBodyBytes, 1, 1<<31-1)
	checkRange(p, at, "limits.max_header_bytes", s.Limits.MaxHeaderBytes, 1024, 1<<24)
	if s.Admin.Listen != "" {
		checkAddr(p, at, "admin.listen", s.Admin.Listen)
		if s.Admin.TokenEnv == "" {
			p.add(at("admin.listen"), "admin.listen", "a TCP admin listener needs admin.token_env (the variable holding its token)")
		}
	}
}

func checkSlot(p *problemList, catalog Catalog, slot string, ps *PluginSlot, at func(string) Position) {
	if ps == nil {
		return
	}
	known, ok := catalog[slot][ps.Plugin]
	if !ok && ps.Plugin != "" {
		p.add(at(slot+".plugin"), slot+".plugin", "unknown plugin %q; expected one of: %s", ps.Plugin, catalog.names(slot))
	}
	if ps.Mode != ModeInProcess && ps.Mode != ModeProcess {
		p.add(at(slot+".mode"), slot+".mode", "expected inprocess or process, found %q", ps.Mode)
	}
	checkRange(p, at, slot+".max_procs", ps.MaxProcs, 0, 1024)
	if ps.Restart.Max < ps.Restart.Initial {
		p.add(ps.At, slot+".restart", "max (%s) is below initial (%s)", ps.Restart.Max.D(), ps.Restart.Initial.D())
	}
	if ok && known != nil {
		if err := known(ps.Config); err != nil {
			pos := ps.ConfigAt
			if pos.Line == 0 {
				pos = ps.At
			}
			p.add(pos, slot+".config", "%v", err)
		}
	}
}

func checkPages(s *Set, catalog Catalog, at func(string) Position, p *problemList) {
	routes := map[string]bool{}
	for i := range s.Pages {
		pr := &s.Pages[i]
		key := fmt.Sprintf("pages[%d]", i)
		if !strings.HasPrefix(pr.Route, "/") || strings.HasPrefix(pr.Route, "/_gnr") {
			p.add(at(key+".route"), key+".route", "expected a path starting with / and outside /_gnr, found %q", pr.Route)
		}
		if routes[pr.Route] {
			p.add(at(key+".route"), key+".route", "route %q appears twice", pr.Route)
		}
		routes[pr.Route] = true
		switch {
		case (pr.Module == "") == (pr.Plugin == ""):
			p.add(pr.At, key, "expected exactly one of module (a .wasm file) or plugin")
		case pr.Module != "":
			if _, ok := catalog["pages"]["wasm"]; !ok {
				p.add(at(key+".module"), key+".module", "WASM page modules are not available in this build")
			}
			path := pr.Module
			if !filepath.IsAbs(path) {
				path = filepath.Join(filepath.Dir(s.Path), path)
			}
			if _, err := os.Stat(path); err != nil {
				p.add(at(key+".module"), key+".module", "cannot read module: %v", err)
			}
		case strings.Contains(pr.Plugin, "/"):
			// A path, not a catalog name: a page plugin executable, run by the host.
			path := pr.Plugin
			if !filepath.IsAbs(path) {
				path = filepath.Join(filepath.Dir(s.Path), path)
			}
			checkExecutable(p, at(key+".plugin"), key+".plugin", path)
		default:
			if _, ok := catalog["pages"][pr.Plugin]; !ok || pr.Plugin == "wasm" {
				p.add(at(key+".plugin"), key+".plugin", "unknown page plugin %q; expected one of: %s", pr.Plugin, catalog.names("pages"))
			}
		}
		checkRange(p, at, key+".memory_limit_mb", pr.MemoryLimitMB, 1, 4096)
		checkRange(p, at, key+".instances", pr.Instances, 1, 256)
		checkRange(p, at, key+".max_per_connection", pr.MaxPerConnection, 1, 100000)
		if pr.Lifecycle != "ephemeral" && pr.Lifecycle != "resident" {
			p.add(at(key+".lifecycle"), key+".lifecycle", "expected ephemeral or resident, found %q", pr.Lifecycle)
		} else if pr.Persist && pr.Lifecycle != "resident" {
			// An ephemeral page's store is in the registry already; persist snapshots what
			// only a resident page holds in memory.
			p.add(at(key+".persist"), key+".persist", "applies to resident pages; set lifecycle: resident")
		}
	}
}

// checkExecutable: a page plugin path must name a regular file someone may execute.
func checkExecutable(p *problemList, pos Position, key, path string) {
	st, err := os.Stat(path)
	switch {
	case err != nil:
		p.add(pos, key, "cannot read page plugin executable: %v", err)
	case !st.Mode().IsRegular():
		p.add(pos, key, "page plugin %s is not a regular file (%s)", path, st.Mode().Type())
	case st.Mode().Perm()&0o111 == 0:
		p.add(pos, key, "page plugin %s is not executable (mode %s)", path, st.Mode().Perm())
	}
}

func checkWebSocket(ws *WebSocket, at func(string) Position, p *problemList) {
	if !strings.HasPrefix(ws.Path, "/") {
		p.add(at("websocket.path"), "websocket.path", "expected a path starting with /, found %q", ws.Path)
	}
	for i, o := range ws.AllowedOrigins {
		key := fmt.Sprintf("websocket.allowed_origins[%d]", i)
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			p.add(at(key), key, "expected an origin such as https://example.com, found %q", o)
		}
	}
	checkRange(p, at, "websocket.max_message_bytes", ws.MaxMessageBytes, 128, 64<<20)
	checkRange(p, at, "websocket.queue_messages", ws.QueueMessages, 1, 1<<20)
	checkRange(p, at, "websocket.queue_bytes", ws.QueueBytes, 1024, 1<<30)
}

func checkRange(p *problemList, at func(string) Position, key string, v, lo, hi int) {
	if v < lo || v > hi {
		p.add(at(key), key, "expected a value from %d to %d, found %d", lo, hi, v)
	}
}

func checkAddr(p *problemList, at func(string) Position, key, addr string) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		p.add(at(key), key, "expected host:port or :port, found %q", addr)
	}
}

func checkDuration(p *problemList, at func(string) Position, key string, d Duration, lo, hi time.Duration) {
	if d.D() < lo || d.D() > hi {
		p.add(at(key), key, "expected a duration from %s to %s, found %s", lo, hi, d.D())
	}
}

// checkIPC checks the nats backend's URL and site; other backends take neither.
func checkIPC(ipc *IPC, at func(string) Position, p *problemList) {
	if ipc.Backend != "nats" {
		if ipc.URL != "" {
			p.add(at("ipc.url"), "ipc.url", "only the nats backend takes a url; backend is %q", ipc.Backend)
		}
		if ipc.Site != "" {
			p.add(at("ipc.site"), "ipc.site", "only the nats backend takes a site; backend is %q", ipc.Backend)
		}
		return
	}
	if ipc.URL != "" {
		for _, one := range strings.Split(ipc.URL, ",") {
			u, err := url.Parse(strings.TrimSpace(one))
			if err != nil || u.Host == "" || (u.Scheme != "nats" && u.Scheme != "tls" && u.Scheme != "ws" && u.Scheme != "wss") {
				p.add(at("ipc.url"), "ipc.url", "expected nats://host:port (or tls://, ws://, wss://; comma-separated for a cluster), found %q", one)
				break
			}
		}
	}
	for i := 0; i < len(ipc.Site); i++ {
		c := ipc.Site[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			p.add(at("ipc.site"), "ipc.site", "expected letters, digits, '_' and '-', found %q", ipc.Site)
			break
		}
	}
}
