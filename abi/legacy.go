package abi

import (
	"context"
	"encoding/json"
	"log/slog"
)

// LegacyApp is the control plane of the legacy WSGI site (the `legacy` slot): the plugin
// starts and supervises the site's server and tells the host where it listens; the host
// proxies HTTP straight there, with no per-request hop through the plugin.
type LegacyApp interface {
	// Address is where requests go: "unix:/path/to.sock" or "http://host:port".
	Address() string
	// Ping reports whether the site answers now; an error wraps ErrUnavailable while the
	// site is down or restarting.
	Ping(ctx context.Context) error
	// Reload asks the site to reload its code gracefully (gunicorn: SIGHUP).
	Reload(ctx context.Context) error
	// Close stops the site (when the plugin started it) and frees what it held.
	Close() error
}

// LegacyFactory makes a legacy plugin known to the host's catalog.
type LegacyFactory struct {
	Name        string
	CheckConfig func(config json.RawMessage) error
	// New starts the site and returns once it answers, or fails with the reason (for a
	// WSGI app that cannot be imported: the Python error's last line). Relative paths in
	// the config are resolved against dir, the plugin set file's directory.
	New func(ctx context.Context, config json.RawMessage, dir string, logger *slog.Logger) (LegacyApp, error)
}
