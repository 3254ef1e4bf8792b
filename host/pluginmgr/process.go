package pluginmgr

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

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
	flush  func() // emits the child's last stderr line
	pid    int
}

// startProcess re-executes exe as `exe plugin NAME` and dispenses its registry. It returns
// only when the plugin answered a Ping, so a plugin that starts but cannot serve fails here.
func startProcess(ctx context.Context, exe string, slot *pluginset.PluginSlot, logger *slog.Logger) (*processBackend, error) {
	name := slot.Plugin
	env := []string{EnvPluginConfig + "=" + string(slot.Config)}
	if slot.MaxProcs > 0 {
		env = append(env, "GOMAXPROCS="+strconv.Itoa(slot.MaxProcs))
	}
	client, flush := NewChildClient(ChildCommand(exe, []string{"plugin", name}, env...), ChildSpec{
		Handshake: registryrpc.Handshake,
		Plugins:   registryrpc.VersionedPlugins(nil),
		Logger:    logger,
	})
	fail := func(err error) (*processBackend, error) {
		client.Kill()
		flush()
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
	return &processBackend{client: client, reg: reg, flush: flush, pid: pid}, nil
}

func (p *processBackend) exited() bool { return p.client.Exited() }

// stop closes the gRPC side and ends the process (gracefully, then by kill).
func (p *processBackend) stop() {
	_ = p.reg.Close()
	p.client.Kill()
	p.flush()
}
