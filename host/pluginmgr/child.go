package pluginmgr

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/abi/registryrpc"
)

// parentPoll is how often a child checks that its host is still there. PDEATHSIG covers
// the common case at once; this covers the rest (the forking thread gone, a race at fork).
const parentPoll = 200 * time.Millisecond

// ServeChild is the body of `gnrhost plugin NAME`: it builds the named registry from the
// config the host put in the environment and serves it over go-plugin until the host
// kills it or goes away. Logs go to stderr as JSON, where the host's bridge reads them.
func ServeChild(factories map[string]abi.RegistryFactory, name string) error {
	if os.Getenv(registryrpc.Handshake.MagicCookieKey) != registryrpc.Handshake.MagicCookieValue {
		return fmt.Errorf("gnrhost plugin %s: this command is run by gnrhost itself for plugins with `mode: process`, not by people", name)
	}
	factory, ok := factories[name]
	if !ok {
		return fmt.Errorf("gnrhost plugin: unknown plugin %q", name)
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go watchParent(ctx, logger)

	reg, err := factory.New(ctx, json.RawMessage(os.Getenv(EnvPluginConfig)), logger)
	if err != nil {
		return fmt.Errorf("plugin %s: %w", name, err)
	}
	// Serve closes reg when the host is done with it.
	hlog := hclog.New(&hclog.LoggerOptions{Output: os.Stderr, JSONFormat: true, Level: hclog.Info, Name: name})
	registryrpc.Serve(reg, hlog)
	return nil
}

// watchParent exits the process when the host that started it is gone.
func watchParent(ctx context.Context, logger *slog.Logger) {
	want, err := strconv.Atoi(os.Getenv(EnvParentPID))
	if err != nil {
		want = os.Getppid()
	}
	t := time.NewTicker(parentPoll)
	defer t.Stop()
	for {
		if os.Getppid() != want {
			logger.Error("host process is gone; plugin exiting", "host_pid", want)
			os.Exit(3)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
