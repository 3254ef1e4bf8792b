package pluginmgr

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/abi/registryrpc"
	"github.com/gnrhost/gnrhost/host/pluginset"
)

// Environment a plugin child reads; see child.go.
const (
	EnvPluginConfig = "GNRHOST_PLUGIN_CONFIG"
	EnvParentPID    = "GNRHOST_PARENT_PID"
)

// StartTimeout bounds how long a child may take to print its go-plugin handshake.
const StartTimeout = 10 * time.Second

// processBackend is one running child process serving a registry over gRPC.
type processBackend struct {
	client *plugin.Client
	reg    abi.Registry
	bridge *logBridge
	pid    int
}

// startProcess re-executes exe as `exe plugin NAME` and dispenses its registry. It returns
// only when the plugin answered a Ping, so a plugin that starts but cannot serve fails here.
func startProcess(ctx context.Context, exe string, slot *pluginset.PluginSlot, logger *slog.Logger) (*processBackend, error) {
	name := slot.Plugin
	cmd := exec.Command(exe, "plugin", name)
	cmd.Env = append(os.Environ(),
		EnvPluginConfig+"="+string(slot.Config),
		EnvParentPID+"="+strconv.Itoa(os.Getpid()),
	)
	if slot.MaxProcs > 0 {
		cmd.Env = append(cmd.Env, "GOMAXPROCS="+strconv.Itoa(slot.MaxProcs))
	}
	// The kernel kills the child when the host dies, even by SIGKILL; the child also
	// watches its parent in case the forking thread is gone (PDEATHSIG is per thread).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: false}

	bridge := newLogBridge(logger)
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  registryrpc.Handshake,
		VersionedPlugins: registryrpc.VersionedPlugins(nil),
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		StartTimeout:     StartTimeout,
		// The bridge parses the child's stderr itself (go-plugin splits lines over 64 KB);
		// an Off logger keeps go-plugin from logging every line a second time.
		Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Off}),
		Stderr: bridge,
	})
	fail := func(err error) (*processBackend, error) {
		client.Kill()
		bridge.Flush()
		return nil, err
	}
	rpcClient, err := client.Client()
	if err != nil {
		return fail(fmt.Errorf("start plugin process %s: %w", name, err))
	}
	raw, err := rpcClient.Dispense(registryrpc.PluginName)
	if err != nil {
		return fail(fmt.Errorf("dispense %s from plugin process %s: %w", registryrpc.PluginName, name, err))
	}
	reg, ok := raw.(abi.Registry)
	if !ok {
		return fail(fmt.Errorf("plugin process %s: dispensed %T, not a registry", name, raw))
	}
	if err := reg.Ping(ctx); err != nil {
		return fail(fmt.Errorf("plugin process %s: first ping: %w", name, err))
	}
	pid := 0
	if rc := client.ReattachConfig(); rc != nil {
		pid = rc.Pid
	}
	return &processBackend{client: client, reg: reg, bridge: bridge, pid: pid}, nil
}

func (p *processBackend) exited() bool { return p.client.Exited() }

// stop closes the gRPC side and ends the process (gracefully, then by kill).
func (p *processBackend) stop() {
	_ = p.reg.Close()
	p.client.Kill()
	p.bridge.Flush()
}
