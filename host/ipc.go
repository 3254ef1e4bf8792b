package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/host/ipc"
	"github.com/gnrhost/gnrhost/host/metrics"
	"github.com/gnrhost/gnrhost/host/pluginset"
	"github.com/gnrhost/gnrhost/host/session"
)

// ipcLink is a process's nats connection and, when it started one, its embedded server.
type ipcLink struct {
	bus          *ipc.Bus
	stopEmbedded func()
}

// startIPC connects the nats backend of set, or returns nil for the local backend. The
// URL rule (docs/ipc.md): ipc.url, else GNRHOST_NATS_URL, else an embedded server when
// the set runs one process; several processes without a URL refuse to start, since each
// would run its own server and see none of the others.
func startIPC(ctx context.Context, set *pluginset.Set, process session.Process, logger *slog.Logger, m *metrics.Metrics) (*ipcLink, error) {
	if set.IPC == nil || set.IPC.Backend != "nats" {
		return nil, nil
	}
	url, source := ipc.ResolveURL(set.IPC.URL)
	link := &ipcLink{}
	if url == "" {
		if set.Processes > 1 {
			return nil, fmt.Errorf("host: ipc: the nats backend with %d processes needs a shared server: set ipc.url or %s (the balancer sets it)", set.Processes, ipc.EnvURL)
		}
		var err error
		if url, link.stopEmbedded, err = ipc.StartEmbedded(ctx, ipc.EmbeddedOptions{}); err != nil {
			return nil, fmt.Errorf("host: ipc: %w", err)
		}
		source = "embedded"
	}
	label := ""
	if process != 0 {
		label = fmt.Sprintf("p%02d", int(process))
	}
	site := set.IPC.Site
	if site == "" {
		site = set.Name
	}
	bus, err := ipc.Connect(ctx, ipc.Config{URL: url, Site: site, Process: label, Logger: logger, Metrics: m})
	if err != nil {
		if link.stopEmbedded != nil {
			link.stopEmbedded()
		}
		return nil, fmt.Errorf("host: %w", err)
	}
	link.bus = bus
	logger.Info("ipc: nats backend", "source", source, "subjects", bus.Subjects().Prefix+".>", "origin", bus.Origin())
	return link, nil
}

// subscribe wires the link's incoming traffic: dbevents to deliver (to whichever set
// runs), notices to the WebSocket endpoint.
func (l *ipcLink) subscribe(deliver func(ipc.DbEventsMessage), notify func(ipc.Notice)) error {
	if err := l.bus.OnDbEvents(deliver); err != nil {
		return err
	}
	return l.bus.OnNotice(notify)
}

// unsubscribe stops incoming deliveries (see ipc.Bus.Unsubscribe).
func (l *ipcLink) unsubscribe() {
	if l != nil {
		_ = l.bus.Unsubscribe()
	}
}

// close drains the connection, then stops the embedded server.
func (l *ipcLink) close(ctx context.Context) error {
	if l == nil {
		return nil
	}
	err := l.bus.Close(ctx)
	if l.stopEmbedded != nil {
		l.stopEmbedded()
	}
	return err
}

// deliverRemoteDbEvents hands another process's dbevents to this set's registry, whose
// watcher delivers them to the pages here.
func (h *Host) deliverRemoteDbEvents(ctx context.Context, msg ipc.DbEventsMessage) {
	reg, ok := h.shared.(*ipc.Registry)
	if !ok {
		return
	}
	if err := reg.DeliverRemote(ctx, msg); err != nil && !errors.Is(err, context.Canceled) {
		h.logger.Warn("remote dbevents not delivered", "table", msg.Table, "origin", msg.Origin, "err", err)
	}
}

// deliverNotice writes a notice to this process's sockets of its user (or all of them).
func deliverNotice(h *Host, n ipc.Notice) { h.ws.Notify(n.User, n.Broadcast, n.Payload) }

// sharedRegistry is the registry the pages use: the process's own, wrapped by the nats
// backend so dbevents and the global store reach the other processes.
func sharedRegistry(own abi.Registry, link *ipcLink) abi.Registry {
	if link == nil {
		return own
	}
	return ipc.NewRegistry(own, link.bus)
}
