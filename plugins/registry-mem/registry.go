package registrymem

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/abi/dbwatch"
)

// errClosed is what every call returns after Close: the host treats a closed registry like
// an unreachable one (503), so it wraps ErrUnavailable.
var errClosed = fmt.Errorf("registry closed: %w", abi.ErrUnavailable)

// wrap gives every error leaving a public method the same shape,
// "registry-mem: <operation>: <cause>", with the abi sentinel still reachable by errors.Is.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("registry-mem: %s: %w", op, err)
}

// Registry keeps a site's registers in memory. The zero value is not usable; call New.
type Registry struct {
	cfg Config
	log *slog.Logger

	// mu guards regs, tables and everything inside the entries. Critical sections only
	// touch maps and copy values: no I/O, no channel sends, no logging.
	mu   sync.RWMutex
	regs map[abi.RegisterName]map[string]*entry
	// tables indexes page ids by subscribed table, so NotifyDbEvents (run on every db
	// commit) does not scan every page.
	tables map[string]map[string]struct{}

	closed atomic.Bool

	// watchers have their own lock, so a broadcast never holds the register lock.
	watchers dbwatch.Fanout

	stopSweeper context.CancelFunc
	sweeperDone chan struct{}
}

var _ abi.Registry = (*Registry)(nil)

// entry is one item with its private state. item.Data is always nil: the store lives in
// store so copies of the identity never drag the store along.
type entry struct {
	item      abi.Item
	store     map[string]json.RawMessage
	changes   []abi.Datachange
	changeIdx int64
	paths     map[string]struct{}
	lock      lockState
}

func newEntry(item abi.Item) *entry {
	return &entry{item: item, store: map[string]json.RawMessage{}, paths: map[string]struct{}{}}
}

// New returns a registry configured by cfg (zero fields mean defaults) and starts its
// background sweeper. A nil logger discards logs. Call Close to stop the sweeper.
func New(cfg Config, logger *slog.Logger) *Registry {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Registry{
		cfg: cfg.withDefaults(),
		log: logger,
		regs: map[abi.RegisterName]map[string]*entry{
			abi.RegisterGlobal:     {},
			abi.RegisterUser:       {},
			abi.RegisterConnection: {},
			abi.RegisterPage:       {},
		},
		tables:      map[string]map[string]struct{}{},
		sweeperDone: make(chan struct{}),
	}
	now := time.Now()
	r.regs[abi.RegisterGlobal][abi.GlobalItemID] = newEntry(abi.Item{
		Register: abi.RegisterGlobal, ID: abi.GlobalItemID, StartTS: now, LastRefreshTS: now,
	})

	ctx, cancel := context.WithCancel(context.Background())
	r.stopSweeper = cancel
	go r.sweepLoop(ctx)
	return r
}

// Config returns the effective config (defaults filled in).
func (r *Registry) Config() Config { return r.cfg }

// Close stops the sweeper (waiting for it), closes every watcher channel and makes every
// later call fail with ErrUnavailable, including a second Close.
func (r *Registry) Close() error {
	if !r.closed.CompareAndSwap(false, true) {
		return wrap("close", errClosed)
	}
	r.stopSweeper()
	<-r.sweeperDone
	r.watchers.Close()
	return nil
}

// Ping answers as long as the registry is open.
func (r *Registry) Ping(ctx context.Context) error {
	return wrap("ping", r.begin(ctx))
}

// begin is the common entry check: closed registries and finished contexts fail before
// any lock is taken.
func (r *Registry) begin(ctx context.Context) error {
	if r.closed.Load() {
		return errClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return nil
}

// checkRef refuses refs no register can hold.
func checkRef(ref abi.ItemRef) error {
	if !ref.Register.Valid() {
		return fmt.Errorf("unknown register %q: %w", ref.Register, abi.ErrInvalid)
	}
	if ref.ID == "" {
		return fmt.Errorf("empty %s id: %w", ref.Register, abi.ErrInvalid)
	}
	return nil
}

// lookup finds an entry; r.mu must be held.
func (r *Registry) lookup(ref abi.ItemRef) (*entry, error) {
	if err := checkRef(ref); err != nil {
		return nil, err
	}
	e, ok := r.regs[ref.Register][ref.ID]
	if !ok {
		return nil, fmt.Errorf("%s %q: %w", ref.Register, ref.ID, abi.ErrNotFound)
	}
	return e, nil
}

// read runs fn on an entry under the read lock, after the entry checks; errors come out
// wrapped with op.
func (r *Registry) read(ctx context.Context, op string, ref abi.ItemRef, fn func(e *entry) error) error {
	if err := r.begin(ctx); err != nil {
		return wrap(op, err)
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, err := r.lookup(ref)
	if err != nil {
		return wrap(op, err)
	}
	return wrap(op, fn(e))
}

// write is read under the write lock.
func (r *Registry) write(ctx context.Context, op string, ref abi.ItemRef, fn func(e *entry) error) error {
	if err := r.begin(ctx); err != nil {
		return wrap(op, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	e, err := r.lookup(ref)
	if err != nil {
		return wrap(op, err)
	}
	return wrap(op, fn(e))
}

// Counters returns the sizes of the user, connection and page registers.
func (r *Registry) Counters(ctx context.Context) (abi.Counters, error) {
	if err := r.begin(ctx); err != nil {
		return abi.Counters{}, wrap("counters", err)
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return abi.Counters{
		Users:       len(r.regs[abi.RegisterUser]),
		Connections: len(r.regs[abi.RegisterConnection]),
		Pages:       len(r.regs[abi.RegisterPage]),
	}, nil
}
