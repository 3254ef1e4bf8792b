package pagerpc

import (
	"context"
	"errors"
	"os"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/gnrhost/gnrhost/abi"
	pb "github.com/gnrhost/gnrhost/abi/pagepb"
)

// PluginName is the name a page handler is dispensed under (plugin.ClientProtocol.Dispense).
const PluginName = "page"

// Handshake is shared by the host and every page plugin. Its cookie value differs from
// the registry's so that a registry binary named as a page plugin (or the reverse) is
// refused at the handshake instead of failing on its first RPC. The cookie is not a
// secret: it only keeps a plugin run by hand from starting a server.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  abi.PageProtocolVersion,
	MagicCookieKey:   "GNRHOST_PLUGIN",
	MagicCookieValue: "gnrhost-page-7d41b09e",
}

// Plugin is the go-plugin binding of abi.PageHandler. In the plugin process Impl is the
// handler being served; in the host Impl is nil and only GRPCClient is used.
type Plugin struct {
	// Page plugins speak gRPC only: the host callbacks need the gRPC broker.
	plugin.NetRPCUnsupportedPlugin
	Impl abi.PageHandler
}

var _ plugin.GRPCPlugin = (*Plugin)(nil)

// GRPCServer registers the PageHandler service backed by p.Impl. The broker is kept to
// dial the host's PageHost service named in each call.
func (p *Plugin) GRPCServer(broker *plugin.GRPCBroker, s *grpc.Server) error {
	if p.Impl == nil {
		return errors.New("pagerpc: Plugin.Impl is nil: nothing to serve")
	}
	pb.RegisterPageHandlerServer(s, newServer(p.Impl, broker))
	return nil
}

// GRPCClient returns an abi.PageHandler that forwards every call to the plugin over c and
// serves the calls' PageHost to the plugin through broker. ctx is go-plugin's: it ends
// when the plugin process exits, which lets calls fail at once instead of dialing a
// dead socket.
func (p *Plugin) GRPCClient(ctx context.Context, broker *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return newClient(ctx, broker, c), nil
}

// VersionedPlugins is the plugin set of each protocol version this build speaks, for
// plugin.ClientConfig.VersionedPlugins (host, impl nil) and plugin.ServeConfig (plugin).
func VersionedPlugins(impl abi.PageHandler) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{
		abi.PageProtocolVersion: {PluginName: &Plugin{Impl: impl}},
	}
}

// MaxMessageBytes bounds one gRPC message either side accepts. A call carries the page
// store (8 MiB at most) and its input (1 MiB); a result a reply of 4 MiB, 64 pushes of
// 256 KiB and 16 publishes of 1 MiB. gRPC's default of 4 MiB would refuse legal calls;
// go-plugin's own default (2 GiB) would let a broken plugin make the host allocate
// without limit.
const MaxMessageBytes = 64 << 20

func newGRPCServer(opts []grpc.ServerOption) *grpc.Server {
	return grpc.NewServer(append(opts, grpc.MaxRecvMsgSize(MaxMessageBytes), grpc.MaxSendMsgSize(MaxMessageBytes))...)
}

// ClientDialOptions are the gRPC options the host gives go-plugin
// (plugin.ClientConfig.GRPCDialOptions) so that what it receives from a plugin is
// bounded by MaxMessageBytes.
func ClientDialOptions() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithDefaultCallOptions(
		grpc.MaxCallRecvMsgSize(MaxMessageBytes), grpc.MaxCallSendMsgSize(MaxMessageBytes))}
}

// Serve serves handler as a page plugin over gRPC and returns when the host is done with
// it; a plugin's main calls it and nothing else. It logs go-plugin's own lines as JSON on
// stderr, which the host's log bridge reads, and exits the process if the host that
// started it goes away (see watchParent).
func Serve(handler abi.PageHandler) {
	if handler == nil {
		// A wiring bug in the plugin binary; go-plugin panics on such conditions too.
		panic("pagerpc: Serve called with a nil abi.PageHandler")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go watchParent(ctx)
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: VersionedPlugins(handler),
		GRPCServer:       newGRPCServer,
		Logger: hclog.New(&hclog.LoggerOptions{
			Output: os.Stderr, JSONFormat: true, Level: hclog.Info, Name: "page-plugin",
		}),
	})
}
