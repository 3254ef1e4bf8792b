package registrymem

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/gnrhost/gnrhost/abi"
)

// Factory makes registry-mem known to the host's catalog (`registry: {plugin: registry-mem}`).
var Factory = abi.RegistryFactory{
	Name: "registry-mem",
	CheckConfig: func(config json.RawMessage) error {
		_, err := ParseConfig(config)
		return err
	},
	New: func(_ context.Context, config json.RawMessage, logger *slog.Logger) (abi.Registry, error) {
		cfg, err := ParseConfig(config)
		if err != nil {
			// ParseConfig's errors already say "registry-mem config: ...".
			return nil, err
		}
		return New(cfg, logger), nil
	},
}
