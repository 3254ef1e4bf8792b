package pluginmgr

import (
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"syscall"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// The parts of starting a go-plugin child that every kind of plugin shares: registry
// children here, native page plugins in host/pages. Keeping them in one place keeps the
// guarantees in one place: no child outlives the host, and a child's stderr reaches the
// host's log as records tagged with the plugin.

// ChildCommand is the command for a plugin child: exe with args, the host's environment
// plus env, and EnvParentPID. The kernel kills the child when the host dies, even by
// SIGKILL (PDEATHSIG); the child also watches its parent through EnvParentPID in case the
// forking thread is gone (PDEATHSIG is per thread).
func ChildCommand(exe string, args []string, env ...string) *exec.Cmd {
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), EnvParentPID+"="+strconv.Itoa(os.Getpid()))
	cmd.Env = append(cmd.Env, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: false}
	return cmd
}

// ChildSpec is what NewChildClient needs besides the command.
type ChildSpec struct {
	Handshake plugin.HandshakeConfig
	Plugins   map[int]plugin.PluginSet
	// Logger receives the child's stderr, one record per line; tag it with the plugin.
	Logger *slog.Logger
	// GRPCDialOptions are added to go-plugin's, e.g. message size bounds.
	GRPCDialOptions []grpc.DialOption
	// SyncStdio also logs what the child writes to os.Stdout and os.Stderr once it
	// serves: go-plugin moves those onto a gRPC stream the host drops unless asked for
	// it. Plugins written by others print there (log.Printf, panics they recover).
	SyncStdio bool
}

// NewChildClient returns a go-plugin client (gRPC only, StartTimeout) that will run cmd,
// and the function that flushes the child's last stderr line: call it after Kill, when
// the child has died mid-line.
func NewChildClient(cmd *exec.Cmd, spec ChildSpec) (*plugin.Client, func()) {
	bridge := newLogBridge(spec.Logger)
	cfg := &plugin.ClientConfig{
		HandshakeConfig:  spec.Handshake,
		VersionedPlugins: spec.Plugins,
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		StartTimeout:     StartTimeout,
		GRPCDialOptions:  spec.GRPCDialOptions,
		// The bridge parses the child's stderr itself (go-plugin splits lines over 64 KB);
		// an Off logger keeps go-plugin from logging every line a second time.
		Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Off}),
		Stderr: bridge,
	}
	flush := bridge.Flush
	if spec.SyncStdio {
		// One bridge per stream: each reassembles its own lines.
		out, errs := newLogBridge(spec.Logger), newLogBridge(spec.Logger)
		cfg.SyncStdout, cfg.SyncStderr = out, errs
		flush = func() {
			bridge.Flush()
			out.Flush()
			errs.Flush()
		}
	}
	return plugin.NewClient(cfg), flush
}
