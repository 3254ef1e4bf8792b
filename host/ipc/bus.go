package ipc

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/host/metrics"
)

// Config of a Bus.
type Config struct {
	// URL of the NATS server (or a comma-separated list of a cluster's servers).
	URL string
	// Site names the subjects and bucket (NewSubjects).
	Site string
	// Process labels this process in the connection name and in Origin ("p01"; empty for
	// a host without a process number).
	Process string
	Logger  *slog.Logger
	// Metrics, when not nil, counts messages and errors (gnrhost_ipc_*).
	Metrics *metrics.Metrics
	// ConnectTimeout bounds the first connection attempt (default 5 s). The host starts
	// even when it fails: the connection keeps retrying in the background.
	ConnectTimeout time.Duration
	// PendingMessages bounds the messages each subscription holds before its handler
	// takes them (default 65,536; pendingBytes bounds their size).
	PendingMessages int
}

// Pending limits of each subscription: past them nats.go drops messages and reports a
// slow consumer (counted in gnrhost_ipc_errors_total{kind="slow_consumer"}). The
// handlers only hand events to the registry, so a backlog this size means a stuck host.
const (
	pendingMessages = 65536
	pendingBytes    = 64 << 20
)

// Bus is one process's connection to the other processes of its site.
type Bus struct {
	cfg      Config
	subjects Subjects
	origin   string
	nc       *nats.Conn
	logger   *slog.Logger
	global   *GlobalStore
	pages    *PageSnapshots
	closed   chan struct{}

	mu   sync.Mutex
	subs []*nats.Subscription
}

// Connect opens the connection. It waits up to cfg.ConnectTimeout (or ctx) for the server;
// when none answers, it returns a Bus that keeps reconnecting, so a host whose NATS is
// down still starts and serves its own pages (docs/ipc.md, failure behaviour).
func Connect(ctx context.Context, cfg Config) (*Bus, error) {
	if cfg.URL == "" {
		return nil, errors.New("ipc: nats: no server URL")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	var nonce [4]byte
	_, _ = rand.Read(nonce[:])
	b := &Bus{cfg: cfg, subjects: NewSubjects(cfg.Site), closed: make(chan struct{})}
	b.origin = hex.EncodeToString(nonce[:])
	if cfg.Process != "" {
		b.origin = cfg.Process + "-" + b.origin
	}
	b.logger = cfg.Logger.With("component", "ipc", "origin", b.origin)
	connected := make(chan struct{}, 1)
	var err error
	b.nc, err = nats.Connect(cfg.URL,
		nats.Name("gnrhost "+b.subjects.Prefix+" "+b.origin),
		// A process's own messages come back to nobody: it delivers them locally first.
		nats.NoEcho(),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		nats.RetryOnFailedConnect(true),
		nats.DrainTimeout(5*time.Second),
		nats.ConnectHandler(func(*nats.Conn) {
			b.setConnected(true)
			select {
			case connected <- struct{}{}:
			default:
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			b.setConnected(true)
			b.logger.Info("nats reconnected", "server", nc.ConnectedUrlRedacted())
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			b.setConnected(false)
			if err != nil {
				b.count("", "disconnect")
				b.logger.Warn("nats disconnected; reconnecting (local delivery continues)", "err", err)
			}
		}),
		nats.ClosedHandler(func(*nats.Conn) {
			b.setConnected(false)
			close(b.closed)
		}),
		nats.ErrorHandler(b.asyncError),
	)
	if err != nil {
		return nil, fmt.Errorf("ipc: connect to nats %s: %w", redact(cfg.URL), err)
	}
	if b.nc.IsConnected() {
		b.setConnected(true)
	} else {
		t := time.NewTimer(cfg.ConnectTimeout)
		defer t.Stop()
		select {
		case <-connected:
		case <-t.C:
			b.logger.Warn("nats server not reachable yet; retrying in the background", "url", redact(cfg.URL))
		case <-ctx.Done():
			b.nc.Close()
			return nil, fmt.Errorf("ipc: connect to nats %s: %w", redact(cfg.URL), ctx.Err())
		}
	}
	b.global = newGlobalStore(b)
	b.pages = newPageSnapshots(b)
	return b, nil
}

// redact drops a password from a URL for logs and errors.
func redact(url string) string {
	if i, j := strings.Index(url, "://"), strings.LastIndex(url, "@"); i >= 0 && j > i {
		return url[:i+3] + "***@" + url[j+1:]
	}
	return url
}

// Origin names this process in the messages it publishes: its process label and a
// random part, so two runs of the same process number are told apart.
func (b *Bus) Origin() string { return b.origin }

// Subjects are the site's subjects.
func (b *Bus) Subjects() Subjects { return b.subjects }

// Global is the site's shared global store.
func (b *Bus) Global() *GlobalStore { return b.global }

// Pages keeps the snapshots of persist pages (pages.Snapshots).
func (b *Bus) Pages() *PageSnapshots { return b.pages }

// Connected reports whether the connection is up now.
func (b *Bus) Connected() bool { return b.nc.IsConnected() }

func (b *Bus) setConnected(up bool) {
	if m := b.cfg.Metrics; m != nil {
		v := 0.0
		if up {
			v = 1
		}
		m.IPCConnected.Set(v)
	}
}

// count records one message (kind "dbevents", "notify") or, with kind "", one error.
func (b *Bus) count(kind, what string) {
	m := b.cfg.Metrics
	if m == nil {
		return
	}
	if kind == "" {
		m.IPCErrors.WithLabelValues(what).Inc()
		return
	}
	m.IPCMessages.WithLabelValues(kind, what).Inc()
}

// asyncError sees what nats.go reports outside a call: above all a slow consumer, whose
// dropped messages are pages that missed an event.
func (b *Bus) asyncError(_ *nats.Conn, sub *nats.Subscription, err error) {
	subject := ""
	if sub != nil {
		subject = sub.Subject
	}
	if errors.Is(err, nats.ErrSlowConsumer) {
		b.count("", "slow_consumer")
		dropped := 0
		if sub != nil {
			dropped, _ = sub.Dropped()
		}
		b.logger.Warn("nats slow consumer: messages dropped", "subject", subject, "dropped_total", dropped)
		return
	}
	b.count("", "async")
	b.logger.Warn("nats error", "subject", subject, "err", err)
}

// publish sends one message; errors are counted and returned, and the callers log them
// without failing the request that caused them: its local delivery already happened.
func (b *Bus) publish(kind, subject string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		b.count("", "encode")
		return fmt.Errorf("ipc: encode %s message: %w", kind, err)
	}
	return b.publishData(kind, subject, data)
}

func (b *Bus) publishData(kind, subject string, data []byte) error {
	if len(data) > b.maxMessage() {
		b.count("", "too_large")
		return fmt.Errorf("ipc: %s message of %d bytes is over the %d-byte limit", kind, len(data), b.maxMessage())
	}
	if err := b.nc.Publish(subject, data); err != nil {
		b.count("", "publish")
		return fmt.Errorf("ipc: publish %s: %w", subject, err)
	}
	b.count(kind, "published")
	return nil
}

func (b *Bus) maxMessage() int {
	limit := MaxMessageBytes
	if mp := int(b.nc.MaxPayload()); mp > 0 && mp < limit {
		limit = mp
	}
	return limit
}

// PublishDbEvents publishes events, one message per table (split further when a table's
// events do not fit one message). It returns the first error; every error is also
// counted and logged.
func (b *Bus) PublishDbEvents(events []abi.DbEvent, originPageID, reason string) error {
	var tables []string
	byTable := map[string][]abi.DbEvent{}
	for _, ev := range events {
		if _, ok := byTable[ev.Table]; !ok {
			tables = append(tables, ev.Table)
		}
		byTable[ev.Table] = append(byTable[ev.Table], ev)
	}
	var first error
	for _, table := range tables {
		if err := b.publishTable(table, byTable[table], originPageID, reason); err != nil {
			b.logger.Warn("dbevents not sent to other processes", "table", table, "err", err)
			if first == nil {
				first = err
			}
		}
	}
	return first
}

func (b *Bus) publishTable(table string, events []abi.DbEvent, originPageID, reason string) error {
	msg := DbEventsMessage{Version: MessageVersion, Origin: b.origin, OriginPageID: originPageID, Reason: reason, Table: table, Events: events}
	data, err := json.Marshal(msg)
	if err != nil {
		b.count("", "encode")
		return fmt.Errorf("ipc: encode dbevents message: %w", err)
	}
	if len(data) > b.maxMessage() && len(events) > 1 {
		half := len(events) / 2
		if err := b.publishTable(table, events[:half], originPageID, reason); err != nil {
			return err
		}
		return b.publishTable(table, events[half:], originPageID, reason)
	}
	return b.publishData("dbevents", b.subjects.DbEvents(table), data)
}

// PublishNotice publishes a notice for n.User, or for everyone with n.Broadcast.
func (b *Bus) PublishNotice(n Notice) error {
	if len(n.Payload) > MaxNotifyPayloadBytes {
		return fmt.Errorf("ipc: notice payload of %d bytes is over the %d-byte limit", len(n.Payload), MaxNotifyPayloadBytes)
	}
	n.Version, n.Origin = MessageVersion, b.origin
	subject := b.subjects.Broadcast()
	if !n.Broadcast {
		if n.User == "" {
			return errors.New("ipc: a notice needs a user or broadcast")
		}
		subject = b.subjects.UserNotify(n.User)
	}
	return b.publish("notify", subject, n)
}

// OnDbEvents calls fn for each dbevents message another process publishes, on the
// subscription's own goroutine (messages arrive in publish order per publisher). It runs
// until Close.
func (b *Bus) OnDbEvents(fn func(DbEventsMessage)) error {
	return b.subscribe("dbevents", b.subjects.AllDbEvents(), func(data []byte) {
		var msg DbEventsMessage
		if err := json.Unmarshal(data, &msg); err != nil || msg.Version != MessageVersion || len(msg.Events) == 0 {
			b.count("", "decode")
			return
		}
		if msg.Origin == b.origin {
			return // NoEcho already keeps them away; a reconnect race must not deliver twice
		}
		fn(msg)
	})
}

// OnNotice calls fn for each user notice and broadcast another process publishes.
func (b *Bus) OnNotice(fn func(Notice)) error {
	handle := func(data []byte) {
		var n Notice
		if err := json.Unmarshal(data, &n); err != nil || n.Version != MessageVersion || len(n.Payload) == 0 {
			b.count("", "decode")
			return
		}
		if n.Origin == b.origin {
			return
		}
		fn(n)
	}
	if err := b.subscribe("notify", b.subjects.AllUserNotify(), handle); err != nil {
		return err
	}
	return b.subscribe("notify", b.subjects.Broadcast(), handle)
}

func (b *Bus) subscribe(kind, subject string, handle func([]byte)) error {
	sub, err := b.nc.Subscribe(subject, func(m *nats.Msg) {
		b.count(kind, "received")
		handle(m.Data)
	})
	if err != nil {
		return fmt.Errorf("ipc: subscribe %s: %w", subject, err)
	}
	if err := sub.SetPendingLimits(cmp.Or(b.cfg.PendingMessages, pendingMessages), pendingBytes); err != nil {
		_ = sub.Unsubscribe()
		return fmt.Errorf("ipc: pending limits of %s: %w", subject, err)
	}
	b.mu.Lock()
	b.subs = append(b.subs, sub)
	b.mu.Unlock()
	// A round trip makes the server know the subscription before this returns: events
	// another process publishes once the host is up are not missed. Disconnected, the
	// subscription is sent on reconnect instead.
	if b.nc.IsConnected() {
		if err := b.nc.FlushTimeout(2 * time.Second); err != nil {
			b.logger.Warn("nats subscription not confirmed yet", "subject", subject, "err", err)
		}
	}
	return nil
}

// Unsubscribe stops the deliveries to the OnDbEvents and OnNotice handlers (a handler
// already running finishes); publishing and the key-value buckets keep working. A host
// that stops calls it before closing its pages, whose last snapshots still need the
// connection, and Close after.
func (b *Bus) Unsubscribe() error {
	b.mu.Lock()
	subs := b.subs
	b.subs = nil
	b.mu.Unlock()
	var errs []error
	for _, sub := range subs {
		if err := sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) && !errors.Is(err, nats.ErrBadSubscription) {
			errs = append(errs, fmt.Errorf("ipc: unsubscribe %s: %w", sub.Subject, err))
		}
	}
	return errors.Join(errs...)
}

// Flush waits until the server has seen everything published so far (tests, and a
// caller that wants its messages out before it stops).
func (b *Bus) Flush(ctx context.Context) error {
	if err := b.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("ipc: flush: %w", err)
	}
	return nil
}

// Close drains the connection: subscriptions stop taking messages, the ones already
// received are handled, pending publishes are sent; then it closes. When ctx ends first
// the connection is closed at once.
func (b *Bus) Close(ctx context.Context) error {
	if b.nc.IsClosed() {
		return nil
	}
	if !b.nc.IsConnected() {
		b.nc.Close()
		return b.waitClosed(ctx)
	}
	if err := b.nc.Drain(); err != nil {
		b.nc.Close()
		_ = b.waitClosed(ctx)
		return fmt.Errorf("ipc: drain: %w", err)
	}
	if err := b.waitClosed(ctx); err != nil {
		b.nc.Close()
		return fmt.Errorf("ipc: drain: %w", err)
	}
	return nil
}

// waitClosed waits for nats.go's closed callback (after a drain: once the handlers of the
// messages already received have returned).
func (b *Bus) waitClosed(ctx context.Context) error {
	select {
	case <-b.closed:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
