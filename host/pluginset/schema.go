package pluginset

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Set is one plugin-set file, decoded and validated. Durations and sizes carry their
// defaults after Load, so the host never has to guess.
type Set struct {
	// Path is the file the set was read from (absolute); relative paths inside the file
	// (pages' modules, sockets) are resolved against its directory.
	Path string `yaml:"-"`

	// Version of the plugin-set schema; only 1 exists. Optional.
	Version int `yaml:"version"`
	// Name shown in status and logs; defaults to the file name without extension.
	Name string `yaml:"name"`
	// Listen is the public address; the --listen flag wins over it.
	Listen string `yaml:"listen"`
	// ShutdownTimeout bounds the drain of in-flight requests on SIGTERM.
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
	// Processes is the number of host processes (phase 7); 1 runs a single host.
	Processes int `yaml:"processes"`

	Registry  *PluginSlot     `yaml:"registry" required:"true"`
	Legacy    *PluginSlot     `yaml:"legacy"`
	Pages     []PageRoute     `yaml:"pages"`
	IPC       *IPC            `yaml:"ipc"`
	WebSocket WebSocket       `yaml:"websocket"`
	Executors Executors       `yaml:"executors"`
	Admin     Admin           `yaml:"admin"`
	Health    HealthSettings  `yaml:"health"`
	Limits    RequestLimits   `yaml:"limits"`
	Metrics   MetricsSettings `yaml:"metrics"`
	Session   Session         `yaml:"session"`
	WASM      WASMSettings    `yaml:"wasm"`
	Events    EventsSettings  `yaml:"events"`
}

// EventsSettings for dbevents sent from outside the host (the legacy app, scripts).
type EventsSettings struct {
	// TokenEnv names the environment variable holding the bearer token that
	// POST /_gnr/dbevents requires; without it the endpoint is off.
	TokenEnv string `yaml:"token_env"`
}

// WASMSettings for the page module runtime.
type WASMSettings struct {
	// CacheDir holds compiled modules between runs; default: the user cache dir
	// (~/.cache/gnrhost/wasm). "off" disables the disk cache.
	CacheDir string `yaml:"cache_dir"`
}

// Session settings: the signed connection cookie.
type Session struct {
	// Cookie is the cookie's name.
	Cookie string `yaml:"cookie"`
	// SecretEnv names the environment variable holding the signing secret (16+ bytes).
	// Without it each process signs with a random secret, so cookies do not survive a
	// restart and are not shared between processes.
	SecretEnv string `yaml:"secret_env"`
}

// Mode says where a plugin runs.
type Mode string

const (
	// ModeInProcess runs the plugin as a Go value inside the host (the default).
	ModeInProcess Mode = "inprocess"
	// ModeProcess runs the plugin as a child process over go-plugin/gRPC.
	ModeProcess Mode = "process"
)

// PluginSlot names the plugin that fills a slot and how to run it.
type PluginSlot struct {
	// Plugin is a name from the host's catalog (e.g. registry-mem).
	Plugin string `yaml:"plugin" required:"true"`
	// Mode is inprocess (default) or process.
	Mode Mode `yaml:"mode"`
	// Config is handed to the plugin as JSON; its schema is the plugin's own.
	Config json.RawMessage `yaml:"config"`
	// Restart bounds the backoff between restarts of a crashed out-of-process plugin.
	Restart Backoff `yaml:"restart"`
	// Routes (legacy slot only) are the path prefixes proxied to the legacy site; "/"
	// (the default) sends every request no page route or host endpoint takes.
	Routes []string `yaml:"routes"`
	// MaxProcs sets GOMAXPROCS of an out-of-process plugin (0: Go's default, all CPUs).
	// One is faster for a registry on small machines (docs/benchmarks.md).
	MaxProcs int `yaml:"max_procs"`

	// At and ConfigAt are where the slot and its config start in the file.
	At       Position `yaml:"-"`
	ConfigAt Position `yaml:"-"`
}

// Backoff is an exponential backoff: Initial, doubling up to Max.
type Backoff struct {
	Initial Duration `yaml:"initial"`
	Max     Duration `yaml:"max"`
}

// PageRoute maps a URL route to a page handler (WASM module or page plugin).
type PageRoute struct {
	Route     string `yaml:"route" required:"true"`
	Module    string `yaml:"module"`
	Plugin    string `yaml:"plugin"`
	Lifecycle string `yaml:"lifecycle"`
	Persist   bool   `yaml:"persist"`

	// MemoryLimitMB caps a WASM instance's linear memory.
	MemoryLimitMB int `yaml:"memory_limit_mb"`
	// Timeout is the deadline of one call into the handler.
	Timeout Duration `yaml:"timeout"`
	// Instances bounds the module's instance pool (and so its concurrent calls).
	Instances int `yaml:"instances"`
	// IdleTTL: a resident page unused for longer is closed.
	IdleTTL Duration `yaml:"idle_ttl"`
	// MaxPerConnection caps the resident pages one connection may hold.
	MaxPerConnection int `yaml:"max_per_connection"`

	At Position `yaml:"-"`
}

// IPC chooses the cross-process event channel (phases 2 and 7).
type IPC struct {
	// Backend is "local" (one process, the default) or "nats" (docs/ipc.md).
	Backend string `yaml:"backend" required:"true"`
	// URL of the NATS server (nats only; a comma-separated list for a cluster). Empty:
	// the GNRHOST_NATS_URL variable, which a balancer sets; without either a single
	// process starts an embedded server, and several processes refuse to start.
	URL string `yaml:"url"`
	// Site names the subjects and key-value bucket (nats only); default: the set's name.
	// Every process of a site must use the same one.
	Site string `yaml:"site"`
	// Poll is how often a process reads its mailbox (pyro only); default 100ms.
	Poll Duration `yaml:"poll"`

	At Position `yaml:"-"`
}

// WebSocket settings for the push endpoint.
type WebSocket struct {
	Path            string   `yaml:"path"`
	AllowedOrigins  []string `yaml:"allowed_origins"`
	MaxMessageBytes int      `yaml:"max_message_bytes"`
	QueueMessages   int      `yaml:"queue_messages"`
	QueueBytes      int      `yaml:"queue_bytes"`
	PingInterval    Duration `yaml:"ping_interval"`
	IdleTimeout     Duration `yaml:"idle_timeout"`
	WriteTimeout    Duration `yaml:"write_timeout"`
}

// Executors size the bounded pool for blocking work.
type Executors struct {
	Workers int `yaml:"workers"`
	Queue   int `yaml:"queue"`
}

// Admin settings: the unix socket (always) and an optional TCP listener that needs a token.
type Admin struct {
	Socket string `yaml:"socket"`
	Listen string `yaml:"listen"`
	// TokenEnv names the environment variable holding the TCP listener's token, so the
	// secret never sits in the set file.
	TokenEnv string `yaml:"token_env"`
	// RollbackGrace is how long a swapped-in set must stay healthy; one that turns
	// unhealthy within it is rolled back to the previous set by itself.
	RollbackGrace Duration `yaml:"rollback_grace"`

	At Position `yaml:"-"`
}

// HealthSettings drive the plugin health checks behind /readyz.
type HealthSettings struct {
	Interval Duration `yaml:"interval"`
	Timeout  Duration `yaml:"timeout"`
}

// RequestLimits bound what a client controls on the public port.
type RequestLimits struct {
	MaxBodyBytes      int      `yaml:"max_body_bytes"`
	MaxHeaderBytes    int      `yaml:"max_header_bytes"`
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"`
	IdleTimeout       Duration `yaml:"idle_timeout"`
}

// MetricsSettings for /metrics.
type MetricsSettings struct {
	// Public serves /metrics on the public port; when false it is only on the admin listener.
	Public *bool `yaml:"public"`
}

// Duration is a time.Duration written as a Go duration string ("500ms", "10s", "2m").
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Position is a place in a set file, 1-based.
type Position struct {
	Line, Column int
}

// Server is an http.Server bound by these limits, logging its errors to logger, with
// request contexts derived from base but not cancelled with it (a drain must let the
// requests in flight finish).
func (l RequestLimits) Server(handler http.Handler, logger *slog.Logger, base context.Context) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: l.ReadHeaderTimeout.D(),
		IdleTimeout:       l.IdleTimeout.D(),
		MaxHeaderBytes:    l.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(base) },
	}
}
