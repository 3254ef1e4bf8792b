package host

import (
	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/host/pluginset"
)

// Catalog is the table of plugin factories this build knows, filled by cmd/gnrhost.
type Catalog struct {
	Registries map[string]abi.RegistryFactory
}

// IPCBackends this build can run. "local" delivers events inside the one process.
var IPCBackends = []string{"local"}

// PluginSetCatalog is the view of the catalog that plugin-set validation needs.
func (c Catalog) PluginSetCatalog() pluginset.Catalog {
	// WASM page modules are always available; native page plugins are not in this build.
	cat := pluginset.Catalog{"registry": {}, "ipc": {}, "pages": {"wasm": nil}}
	for name, f := range c.Registries {
		cat["registry"][name] = f.CheckConfig
	}
	for _, b := range IPCBackends {
		cat["ipc"][b] = nil
	}
	return cat
}
