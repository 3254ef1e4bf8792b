package pluginset

import (
	"path/filepath"
	"strings"
	"time"
)

// Defaults for every optional setting; docs/plugin-sets.md lists the same values.
const (
	DefaultListen            = ":8080"
	DefaultShutdownTimeout   = 10 * time.Second
	DefaultExecutorWorkers   = 16
	DefaultExecutorQueue     = 256
	DefaultHealthInterval    = 2 * time.Second
	DefaultRollbackGrace     = 10 * time.Second
	DefaultHealthTimeout     = time.Second
	DefaultRestartInitial    = 100 * time.Millisecond
	DefaultRestartMax        = 10 * time.Second
	DefaultMaxBodyBytes      = 10 << 20
	DefaultMaxHeaderBytes    = 64 << 10
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultWebSocketPath     = "/_gnr/ws"
	DefaultWSMaxMessageBytes = 1 << 20
	DefaultWSQueueMessages   = 256
	DefaultWSQueueBytes      = 1 << 20
	DefaultWSPingInterval    = 25 * time.Second
	DefaultWSIdleTimeout     = 120 * time.Second
	DefaultWSWriteTimeout    = 10 * time.Second
	DefaultLifecycle         = "ephemeral"
	DefaultSessionCookie     = "gnrhost_conn"
	DefaultPageMemoryMB      = 64
	DefaultPageTimeout       = time.Second
	DefaultPageInstances     = 4
	DefaultPageIdleTTL       = 10 * time.Minute
	DefaultPagesPerConn      = 32
)

func orDuration(d *Duration, def time.Duration) {
	if *d == 0 {
		*d = Duration(def)
	}
}

func orInt(i *int, def int) {
	if *i == 0 {
		*i = def
	}
}

func applyDefaults(s *Set) {
	if s.Name == "" {
		s.Name = strings.TrimSuffix(filepath.Base(s.Path), filepath.Ext(s.Path))
	}
	if s.Listen == "" {
		s.Listen = DefaultListen
	}
	orDuration(&s.ShutdownTimeout, DefaultShutdownTimeout)
	orInt(&s.Processes, 1)
	if s.Legacy != nil && len(s.Legacy.Routes) == 0 {
		s.Legacy.Routes = []string{"/"}
	}
	for _, slot := range []*PluginSlot{s.Registry, s.Legacy} {
		if slot == nil {
			continue
		}
		if slot.Mode == "" {
			slot.Mode = ModeInProcess
		}
		orDuration(&slot.Restart.Initial, DefaultRestartInitial)
		orDuration(&slot.Restart.Max, DefaultRestartMax)
	}
	for i := range s.Pages {
		pr := &s.Pages[i]
		if pr.Lifecycle == "" {
			pr.Lifecycle = DefaultLifecycle
		}
		orInt(&pr.MemoryLimitMB, DefaultPageMemoryMB)
		orDuration(&pr.Timeout, DefaultPageTimeout)
		orInt(&pr.Instances, DefaultPageInstances)
		orDuration(&pr.IdleTTL, DefaultPageIdleTTL)
		orInt(&pr.MaxPerConnection, DefaultPagesPerConn)
	}
	if s.IPC == nil {
		s.IPC = &IPC{Backend: "local"}
	}
	ws := &s.WebSocket
	if ws.Path == "" {
		ws.Path = DefaultWebSocketPath
	}
	orInt(&ws.MaxMessageBytes, DefaultWSMaxMessageBytes)
	orInt(&ws.QueueMessages, DefaultWSQueueMessages)
	orInt(&ws.QueueBytes, DefaultWSQueueBytes)
	orDuration(&ws.PingInterval, DefaultWSPingInterval)
	orDuration(&ws.IdleTimeout, DefaultWSIdleTimeout)
	orDuration(&ws.WriteTimeout, DefaultWSWriteTimeout)
	orInt(&s.Executors.Workers, DefaultExecutorWorkers)
	orInt(&s.Executors.Queue, DefaultExecutorQueue)
	orDuration(&s.Health.Interval, DefaultHealthInterval)
	orDuration(&s.Admin.RollbackGrace, DefaultRollbackGrace)
	orDuration(&s.Health.Timeout, DefaultHealthTimeout)
	orInt(&s.Limits.MaxBodyBytes, DefaultMaxBodyBytes)
	orInt(&s.Limits.MaxHeaderBytes, DefaultMaxHeaderBytes)
	orDuration(&s.Limits.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	orDuration(&s.Limits.IdleTimeout, DefaultIdleTimeout)
	if s.Session.Cookie == "" {
		s.Session.Cookie = DefaultSessionCookie
	}
	if s.Metrics.Public == nil {
		public := true
		s.Metrics.Public = &public
	}
}
