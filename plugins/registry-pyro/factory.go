package registrypyro

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/gnrhost/gnrhost/abi"
)

// Factory makes registry-pyro known to the host's catalog (`registry: {plugin:
// registry-pyro, config: {...}}`).
var Factory = abi.RegistryFactory{
	Name: "registry-pyro",
	CheckConfig: func(config json.RawMessage) error {
		_, err := ParseConfig(config)
		return err
	},
	New: func(ctx context.Context, config json.RawMessage, logger *slog.Logger) (abi.Registry, error) {
		cfg, err := ParseConfig(config)
		if err != nil {
			return nil, err
		}
		return New(ctx, cfg, logger)
	},
}
