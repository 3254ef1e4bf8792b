package mailbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/host/session"
)

// DefaultPoll is how often a process empties its mailbox.
const DefaultPoll = 100 * time.Millisecond

// touchEvery keeps the mailbox item from being swept (pages expire after 600 s unused).
const touchEvery = time.Minute

// maxNoticeBytes bounds one letter; a bigger one is not posted (logged): its pages still
// have the datachange in the registry and see it on their next request.
const maxNoticeBytes = 1 << 20

// mailPath is the datachange path of mailbox letters.
const mailPath = "gnrhost.ipc.dbevents"

// ItemID is the mailbox page id of process p.
func ItemID(p session.Process) string { return fmt.Sprintf("gnrhost_ipc_mailbox_p%02d", int(p)) }

// Options configure a Registry.
type Options struct {
	// Process is this host's number (1..99); the mailbox needs one.
	Process session.Process
	// Poll is how often the mailbox is emptied; zero: DefaultPoll.
	Poll   time.Duration
	Logger *slog.Logger
}

// Registry is an abi.Registry whose dbevents also reach the pages of the other
// processes sharing the inner registry. Everything but NotifyDbEvents and
// WatchDbEvents goes straight to the inner registry.
type Registry struct {
	abi.Registry
	opts Options

	mu       sync.Mutex
	watchers map[chan abi.DbEventNotice]struct{}

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// New opens the process's mailbox in inner and starts emptying it; Close stops it.
func New(ctx context.Context, inner abi.Registry, opts Options) (*Registry, error) {
	if opts.Process == 0 {
		return nil, errors.New("mailbox: the pyro ipc backend needs a process number (serve --process N)")
	}
	if opts.Poll <= 0 {
		opts.Poll = DefaultPoll
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	r := &Registry{Registry: inner, opts: opts, watchers: map[chan abi.DbEventNotice]struct{}{},
		stop: make(chan struct{}), done: make(chan struct{})}
	if err := r.open(ctx); err != nil {
		return nil, err
	}
	go r.poll()
	return r, nil
}

func (r *Registry) ref() abi.ItemRef {
	return abi.ItemRef{Register: abi.RegisterPage, ID: ItemID(r.opts.Process)}
}

// open registers the mailbox unless it is there. A mailbox that is there keeps its
// letters: after a swap they are for the pages the new set took over; after a restart
// they name pages that died with the process, which costs a lookup each and nothing else.
func (r *Registry) open(ctx context.Context) error {
	ok, err := r.Registry.Exists(ctx, r.ref())
	if err != nil {
		return fmt.Errorf("mailbox: look for %s: %w", ItemID(r.opts.Process), err)
	}
	if ok {
		return nil
	}
	err = r.Registry.AddItem(ctx, abi.Item{Register: abi.RegisterPage, ID: ItemID(r.opts.Process), PageName: "gnrhost.ipc.mailbox"})
	if err != nil {
		return fmt.Errorf("mailbox: register %s: %w", ItemID(r.opts.Process), err)
	}
	return nil
}

// letter is a notice as it travels through a mailbox.
type letter struct {
	From         int           `json:"from"`
	Table        string        `json:"table"`
	Events       []abi.DbEvent `json:"events"`
	OriginPageID string        `json:"origin_page_id,omitempty"`
	Reason       string        `json:"reason,omitempty"`
	PageIDs      []string      `json:"page_ids"`
}

// NotifyDbEvents notifies through the inner registry, then posts each notice's pages
// owned by other processes to those processes' mailboxes. A mailbox that cannot be
// reached loses its letter (logged): the page's datachange is in the registry anyway,
// and its next request sees it.
func (r *Registry) NotifyDbEvents(ctx context.Context, events []abi.DbEvent, originPageID, reason string) ([]abi.DbEventNotice, error) {
	notices, err := r.Registry.NotifyDbEvents(ctx, events, originPageID, reason)
	if err != nil {
		return nil, err
	}
	byProcess := map[session.Process][]letter{}
	for _, n := range notices {
		owners := map[session.Process][]string{}
		for _, id := range n.PageIDs {
			if p, ok := session.ProcessOf(id); ok && p != r.opts.Process {
				owners[p] = append(owners[p], id)
			}
		}
		for p, ids := range owners {
			byProcess[p] = append(byProcess[p], letter{From: int(r.opts.Process), Table: n.Table, Events: n.Events,
				OriginPageID: n.OriginPageID, Reason: n.Reason, PageIDs: ids})
		}
	}
	for p, letters := range byProcess {
		for _, l := range letters {
			raw, err := json.Marshal(l)
			if err != nil || len(raw) > maxNoticeBytes {
				r.opts.Logger.Warn("mailbox: dbevent letter too big; the page sees it on its next request",
					"to", int(p), "table", l.Table, "bytes", len(raw))
				continue
			}
			to := abi.ItemRef{Register: abi.RegisterPage, ID: ItemID(p)}
			if _, err := r.Registry.AppendDatachange(ctx, to, abi.Datachange{Path: mailPath, Value: raw}); err != nil {
				r.opts.Logger.Warn("mailbox: post dbevent letter", "to", int(p), "table", l.Table, "err", err)
			}
		}
	}
	return notices, nil
}

// WatchDbEvents merges the inner registry's notices with the letters this process's
// mailbox receives. The channel closes when ctx ends or the inner watch ends.
func (r *Registry) WatchDbEvents(ctx context.Context) (<-chan abi.DbEventNotice, error) {
	inner, err := r.Registry.WatchDbEvents(ctx)
	if err != nil {
		return nil, err
	}
	letters := make(chan abi.DbEventNotice, 256)
	r.mu.Lock()
	r.watchers[letters] = struct{}{}
	r.mu.Unlock()
	out := make(chan abi.DbEventNotice, 256)
	go func() {
		defer close(out)
		defer func() {
			r.mu.Lock()
			delete(r.watchers, letters)
			r.mu.Unlock()
		}()
		for {
			var n abi.DbEventNotice
			select {
			case <-ctx.Done():
				return
			case <-r.stop:
				return
			case v, ok := <-inner:
				if !ok {
					return
				}
				n = v
			case n = <-letters:
			}
			select {
			case out <- n:
			case <-ctx.Done():
				return
			case <-r.stop:
				return
			}
		}
	}()
	return out, nil
}

// poll empties the mailbox until Close.
func (r *Registry) poll() {
	defer close(r.done)
	tick := time.NewTicker(r.opts.Poll)
	defer tick.Stop()
	lastTouch := time.Now()
	for {
		select {
		case <-r.stop:
			return
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		r.collect(ctx)
		if time.Since(lastTouch) > touchEvery {
			lastTouch = time.Now()
			if err := r.Registry.Touch(ctx, r.ref(), abi.RefreshPing); errors.Is(err, abi.ErrNotFound) {
				// Swept or dropped (a registry restart): open it again.
				if err := r.open(ctx); err != nil {
					r.opts.Logger.Warn("mailbox: reopen", "err", err)
				}
			}
		}
		cancel()
	}
}

func (r *Registry) collect(ctx context.Context) {
	changes, err := r.Registry.Datachanges(ctx, r.ref(), true)
	if err != nil {
		if errors.Is(err, abi.ErrNotFound) {
			if err := r.open(ctx); err != nil {
				r.opts.Logger.Warn("mailbox: reopen", "err", err)
			}
			return
		}
		r.opts.Logger.Debug("mailbox: read", "err", err)
		return
	}
	for _, c := range changes {
		if c.Path != mailPath {
			continue
		}
		var l letter
		if err := json.Unmarshal(c.Value, &l); err != nil {
			r.opts.Logger.Warn("mailbox: unreadable letter", "err", err)
			continue
		}
		r.deliver(abi.DbEventNotice{Table: l.Table, Events: l.Events, OriginPageID: l.OriginPageID,
			Reason: l.Reason, PageIDs: l.PageIDs})
	}
}

func (r *Registry) deliver(n abi.DbEventNotice) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for ch := range r.watchers {
		select {
		case ch <- n:
		default:
			r.opts.Logger.Warn("mailbox: a dbevent watcher is behind; letter dropped", "table", n.Table)
		}
	}
}

// Close stops the poll and closes the inner registry.
func (r *Registry) Close() error {
	r.Shutdown(context.Background())
	return r.Registry.Close()
}

// Shutdown stops the poll, leaving the inner registry open (it may be handed to the
// next plugin set). The mailbox stays: the next set of this process reads it on; when
// the process is gone for good, the registry's sweep removes it (pages expire unused).
func (r *Registry) Shutdown(context.Context) {
	r.once.Do(func() {
		close(r.stop)
		<-r.done
	})
}
