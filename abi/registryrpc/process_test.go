package registryrpc

import (
	"errors"
	"os"
	"os/exec"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/gnrhost/gnrhost/abi"
)

// childEnv makes the test binary act as a registry plugin, the way `gnrhost plugin
// registry-mem` does: TestMain sees it and calls Serve instead of running tests.
const childEnv = "REGISTRYRPC_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		Serve(newFake(), hclog.NewNullLogger())
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startChild launches the test binary as a plugin process through go-plugin, exactly as
// the host does: Handshake, VersionedPlugins, gRPC only.
func startChild(t *testing.T) (*plugin.Client, abi.Registry) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	pc := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: VersionedPlugins(nil),
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           hclog.NewNullLogger(),
	})
	t.Cleanup(pc.Kill)
	proto, err := pc.Client()
	if err != nil {
		t.Fatalf("start plugin process: %v", err)
	}
	raw, err := proto.Dispense(PluginName)
	if err != nil {
		t.Fatalf("dispense: %v", err)
	}
	reg, ok := raw.(abi.Registry)
	if !ok {
		t.Fatalf("dispensed %T, want abi.Registry", raw)
	}
	if v := pc.NegotiatedVersion(); v != abi.RegistryProtocolVersion {
		t.Fatalf("negotiated protocol %d, want %d", v, abi.RegistryProtocolVersion)
	}
	return pc, reg
}

func TestServeInChildProcess(t *testing.T) {
	_, reg := startChild(t)
	ctx := t.Context()
	want := fullItem()
	if err := reg.AddItem(ctx, want); err != nil {
		t.Fatalf("AddItem: %v", err)
	}
	got, err := reg.GetItem(ctx, abi.ItemRef{Register: want.Register, ID: want.ID}, true)
	if err != nil {
		t.Fatalf("GetItem: %v", err)
	}
	mustEqual(t, "item through a plugin process", got, want)
}

func TestChildProcessKilledIsUnavailable(t *testing.T) {
	pc, reg := startChild(t)
	ctx := t.Context()
	if err := reg.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	ch, err := reg.WatchDbEvents(ctx)
	if err != nil {
		t.Fatalf("WatchDbEvents: %v", err)
	}

	// A crash, not a graceful Kill: the host finds out only through the broken connection.
	proc, err := os.FindProcess(pc.ReattachConfig().Pid)
	if err != nil {
		t.Fatalf("find plugin process: %v", err)
	}
	if err := proc.Kill(); err != nil {
		t.Fatalf("kill plugin process: %v", err)
	}
	waitClosed(t, ch)
	if err := reg.Ping(ctx); !errors.Is(err, abi.ErrUnavailable) {
		t.Fatalf("Ping to a dead plugin = %v, want ErrUnavailable", err)
	}
	if _, err := reg.Keys(ctx, abi.RegisterUser); !errors.Is(err, abi.ErrUnavailable) {
		t.Fatalf("Keys to a dead plugin = %v, want ErrUnavailable", err)
	}
}

func TestChildProcessStoppedIsUnavailable(t *testing.T) {
	pc, reg := startChild(t)
	pc.Kill() // graceful: go-plugin asks the plugin to shut down, then closes the conn
	if err := reg.Ping(t.Context()); !errors.Is(err, abi.ErrUnavailable) {
		t.Fatalf("Ping after Kill = %v, want ErrUnavailable", err)
	}
}
