package abi

import (
	"context"
	"encoding/json"
	"log/slog"
)

// RegistryFactory is how a registry plugin makes itself known: cmd/gnrhost puts the
// built-in ones in the host's catalog by Name, and `gnrhost plugin NAME` uses the same
// factory in the child process when the set asks for `mode: process`.
type RegistryFactory struct {
	// Name as written in a plugin set's `registry.plugin`.
	Name string
	// CheckConfig validates the plugin's `config` (as JSON; empty means none) without
	// building anything; `gnrhost validate` calls it. Errors name the field at fault.
	CheckConfig func(config json.RawMessage) error
	// New builds a ready registry. The registry owns any goroutines it starts and stops
	// them in Close.
	New func(ctx context.Context, config json.RawMessage, logger *slog.Logger) (Registry, error)
}
