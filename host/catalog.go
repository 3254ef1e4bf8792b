package host

import (
	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/host/pages"
	"github.com/gnrhost/gnrhost/host/pluginset"
)

// Catalog is the table of plugin factories this build knows, filled by cmd/gnrhost.
type Catalog struct {
	Registries map[string]abi.RegistryFactory
	// Pages are native page handlers, named by a route's `plugin:`.
	Pages map[string]pages.HandlerFactory
	// Legacy are the legacy-site plugins (legacy-wsgi).
	Legacy map[string]abi.LegacyFactory
}

// IPC backends: "local" delivers dbevents inside the one process; "nats" also carries
// them to the other processes of the site (host/ipc, docs/ipc.md); "pyro" (the phase 2
// flag) carries them between processes through gnrdaemon (package mailbox).
const (
	IPCLocal = "local"
	IPCNATS  = "nats"
	IPCPyro  = "pyro"
)

// IPCBackends this build can run.
var IPCBackends = []string{IPCLocal, IPCNATS, IPCPyro}

// PluginSetCatalog is the view of the catalog that plugin-set validation needs.
func (c Catalog) PluginSetCatalog() pluginset.Catalog {
	// WASM page modules are always available; native page handlers come from c.Pages.
	cat := pluginset.Catalog{"registry": {}, "ipc": {}, "pages": {"wasm": nil}, "legacy": {}}
	for name, f := range c.Legacy {
		cat["legacy"][name] = f.CheckConfig
	}
	for name, f := range c.Registries {
		cat["registry"][name] = f.CheckConfig
	}
	for name := range c.Pages {
		cat["pages"][name] = nil
	}
	for _, b := range IPCBackends {
		cat["ipc"][b] = nil
	}
	// Several host processes run behind `serve --local-balancer` (host/balancer) or an
	// outside balancer; each is this same host with a --process number.
	cat["processes"] = map[string]pluginset.ConfigCheck{}
	return cat
}
