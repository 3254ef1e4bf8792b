package registryrpc

import (
	"context"
	"errors"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/gnrhost/gnrhost/abi"
	pb "github.com/gnrhost/gnrhost/abi/registrypb"
)

// PluginName is the name the registry is dispensed under (plugin.ClientProtocol.Dispense).
const PluginName = "registry"

// Handshake is shared by the host and every registry plugin. The magic cookie is not a
// secret: it only keeps a plugin binary run by hand from starting a server. The protocol
// version is the fallback go-plugin uses when VersionedPlugins cannot negotiate.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  abi.RegistryProtocolVersion,
	MagicCookieKey:   "GNRHOST_PLUGIN",
	MagicCookieValue: "gnrhost-registry-1f6c8e2a",
}

// Plugin is the go-plugin binding of abi.Registry. In the plugin process Impl is the
// backend being served; in the host Impl is nil and only GRPCClient is used.
type Plugin struct {
	// Registry plugins speak gRPC only; net/rpc would need a second codec for nothing.
	plugin.NetRPCUnsupportedPlugin
	Impl abi.Registry
}

var _ plugin.GRPCPlugin = (*Plugin)(nil)

// GRPCServer registers the Registry service backed by p.Impl.
func (p *Plugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	if p.Impl == nil {
		return errors.New("registryrpc: Plugin.Impl is nil: nothing to serve")
	}
	pb.RegisterRegistryServer(s, newServer(p.Impl))
	return nil
}

// GRPCClient returns an abi.Registry that forwards every call to the plugin over c.
func (p *Plugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return newClient(c), nil
}

// VersionedPlugins is the plugin set of each protocol version this build speaks, for
// plugin.ClientConfig.VersionedPlugins (host, impl nil) and plugin.ServeConfig (plugin).
func VersionedPlugins(impl abi.Registry) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{
		abi.RegistryProtocolVersion: {PluginName: &Plugin{Impl: impl}},
	}
}

// Serve serves impl as a registry plugin over gRPC and returns when the host is done with
// the plugin; it is what `gnrhost plugin registry-mem` runs in the child process. impl is
// closed on return so a backend holding resources releases them even when the host
// stops the plugin gracefully rather than killing it.
func Serve(impl abi.Registry, logger hclog.Logger) {
	if impl == nil {
		// A wiring bug in the plugin binary; go-plugin panics on such conditions too.
		panic("registryrpc: Serve called with a nil abi.Registry")
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: VersionedPlugins(impl),
		GRPCServer:       newGRPCServer,
		Logger:           logger,
	})
	if err := impl.Close(); err != nil && logger != nil {
		logger.Warn("registry: close after serve", "error", err)
	}
}

// MaxMessageBytes bounds one gRPC message the plugin accepts. gRPC's default of 4 MiB
// would refuse a large store in AddItem or ReplaceStore that GetStore can return; the
// bound stays finite so a broken host cannot make the plugin allocate without limit.
const MaxMessageBytes = 64 << 20

func newGRPCServer(opts []grpc.ServerOption) *grpc.Server {
	return grpc.NewServer(append(opts, grpc.MaxRecvMsgSize(MaxMessageBytes), grpc.MaxSendMsgSize(MaxMessageBytes), grpc.NumStreamWorkers(4))...)
}
