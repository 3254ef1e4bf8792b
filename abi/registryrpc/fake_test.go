package registryrpc

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/gnrhost/gnrhost/abi"
)

// fake is a minimal abi.Registry for testing the glue, not registry semantics: it records
// what reached it (to check client -> server conversions) and answers with what it
// recorded or what the test put in it (to check server -> client conversions).
type fake struct {
	mu sync.Mutex

	// fail, when set, is returned by every method.
	fail error
	// block, when set, makes Ping wait for ctx to end; pingCtxErr records how it ended.
	block      bool
	pingCtxErr chan error
	// lastDeadline records whether Ping's ctx carried a deadline.
	lastDeadline time.Time

	items       map[abi.ItemRef]abi.Item
	lastAdded   abi.Item
	lastFilter  abi.ItemFilter
	lastTouch   abi.RefreshKind
	lastCascade bool
	lastValue   json.RawMessage // SetData's value as received
	lastStore   map[string]json.RawMessage
	changes     []abi.Datachange
	lastTTL     time.Duration
	lastNow     time.Time
	lastEvents  []abi.DbEvent
	lastSub     string

	// notices is returned by NotifyDbEvents and sent to watchers.
	notices  []abi.DbEventNotice
	watchers []chan abi.DbEventNotice
	// watchEnded receives once per watch whose ctx ended (the server side let go).
	watchEnded chan struct{}
}

func newFake() *fake {
	return &fake{
		items:      map[abi.ItemRef]abi.Item{},
		pingCtxErr: make(chan error, 1),
		watchEnded: make(chan struct{}, 16),
	}
}

var _ abi.Registry = (*fake)(nil)

func (f *fake) failed() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fail
}

func (f *fake) Ping(ctx context.Context) error {
	f.mu.Lock()
	f.lastDeadline, _ = ctx.Deadline()
	block := f.block
	f.mu.Unlock()
	if block {
		<-ctx.Done()
		f.pingCtxErr <- ctx.Err()
		return ctx.Err()
	}
	return f.failed()
}

func (f *fake) AddItem(_ context.Context, item abi.Item) error {
	if err := f.failed(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastAdded = item
	f.items[abi.ItemRef{Register: item.Register, ID: item.ID}] = item
	return nil
}

func (f *fake) GetItem(_ context.Context, ref abi.ItemRef, includeData bool) (abi.Item, error) {
	if err := f.failed(); err != nil {
		return abi.Item{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	it, ok := f.items[ref]
	if !ok {
		return abi.Item{}, fmt.Errorf("fake: get %s/%s: %w", ref.Register, ref.ID, abi.ErrNotFound)
	}
	if !includeData {
		it.Data = nil
	}
	return it, nil
}

func (f *fake) Exists(_ context.Context, ref abi.ItemRef) (bool, error) {
	if err := f.failed(); err != nil {
		return false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.items[ref]
	return ok, nil
}

func (f *fake) Keys(_ context.Context, register abi.RegisterName) ([]string, error) {
	if err := f.failed(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for ref := range f.items {
		if ref.Register == register {
			ids = append(ids, ref.ID)
		}
	}
	return ids, nil
}

func (f *fake) Items(_ context.Context, register abi.RegisterName, filter abi.ItemFilter) ([]abi.Item, error) {
	if err := f.failed(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastFilter = filter
	var out []abi.Item
	for ref, it := range f.items {
		if ref.Register == register {
			out = append(out, it)
		}
	}
	return out, nil
}

func (f *fake) DropItem(_ context.Context, ref abi.ItemRef, cascade bool) error {
	if err := f.failed(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastCascade = cascade
	delete(f.items, ref)
	return nil
}

func (f *fake) Touch(_ context.Context, _ abi.ItemRef, kind abi.RefreshKind) error {
	if err := f.failed(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastTouch = kind
	return nil
}

func (f *fake) GetData(_ context.Context, ref abi.ItemRef, path string) (json.RawMessage, bool, error) {
	if err := f.failed(); err != nil {
		return nil, false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.items[ref].Data[path]
	return v, ok, nil
}

func (f *fake) SetData(_ context.Context, _ abi.ItemRef, _ string, value json.RawMessage) error {
	if err := f.failed(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastValue = value
	return nil
}

func (f *fake) DeleteData(context.Context, abi.ItemRef, string) error { return f.failed() }

func (f *fake) DataKeys(_ context.Context, ref abi.ItemRef) ([]string, error) {
	if err := f.failed(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var keys []string
	for k := range f.items[ref].Data {
		keys = append(keys, k)
	}
	return keys, nil
}

func (f *fake) GetStore(context.Context, abi.ItemRef) (map[string]json.RawMessage, error) {
	if err := f.failed(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastStore, nil
}

func (f *fake) ReplaceStore(_ context.Context, _ abi.ItemRef, store map[string]json.RawMessage) error {
	if err := f.failed(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastStore = store
	return nil
}

func (f *fake) AppendDatachange(_ context.Context, _ abi.ItemRef, change abi.Datachange) (int64, error) {
	if err := f.failed(); err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.changes = append(f.changes, change)
	// Echo the caller's index back, so the test controls (and checks) the value.
	return change.ChangeIdx, nil
}

func (f *fake) Datachanges(_ context.Context, _ abi.ItemRef, reset bool) ([]abi.Datachange, error) {
	if err := f.failed(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.changes
	if reset {
		f.changes = nil
	}
	return out, nil
}

func (f *fake) DropDatachanges(context.Context, abi.ItemRef, string) error { return f.failed() }

func (f *fake) SubscribePath(_ context.Context, _ abi.ItemRef, path string, active bool) error {
	if err := f.failed(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastSub = fmt.Sprintf("path %s %t", path, active)
	return nil
}

func (f *fake) SubscribedPaths(context.Context, abi.ItemRef) ([]string, error) {
	return []string{"a", "b"}, f.failed()
}

func (f *fake) SubscribeTable(_ context.Context, pageID, table string, subscribe bool) error {
	if err := f.failed(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastSub = fmt.Sprintf("table %s %s %t", pageID, table, subscribe)
	return nil
}

func (f *fake) SubscribedPages(context.Context, string) ([]string, error) {
	return []string{"p1", "p2"}, f.failed()
}

func (f *fake) NotifyDbEvents(_ context.Context, events []abi.DbEvent, _, _ string) ([]abi.DbEventNotice, error) {
	if err := f.failed(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastEvents = events
	for _, n := range f.notices {
		for _, w := range f.watchers {
			select {
			case w <- n:
			default: // as the contract says: a slow watcher loses notices
			}
		}
	}
	return f.notices, nil
}

func (f *fake) WatchDbEvents(ctx context.Context) (<-chan abi.DbEventNotice, error) {
	if err := f.failed(); err != nil {
		return nil, err
	}
	ch := make(chan abi.DbEventNotice, 16)
	f.mu.Lock()
	f.watchers = append(f.watchers, ch)
	f.mu.Unlock()
	context.AfterFunc(ctx, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		for i, w := range f.watchers {
			if w == ch {
				f.watchers = append(f.watchers[:i], f.watchers[i+1:]...)
				close(ch)
				break
			}
		}
		f.watchEnded <- struct{}{}
	})
	return ch, nil
}

// closeWatches ends every watch from the backend side.
func (f *fake) closeWatches() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, w := range f.watchers {
		close(w)
	}
	f.watchers = nil
}

func (f *fake) LockItem(_ context.Context, _ abi.ItemRef, reason string, ttl time.Duration) (bool, error) {
	if err := f.failed(); err != nil {
		return false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastTTL = ttl
	return reason == "mine", nil
}

func (f *fake) UnlockItem(_ context.Context, _ abi.ItemRef, reason string) error {
	if err := f.failed(); err != nil {
		return err
	}
	if reason != "mine" {
		return fmt.Errorf("fake: unlock by %q: %w", reason, abi.ErrLockHeld)
	}
	return nil
}

func (f *fake) Sweep(_ context.Context, now time.Time) (abi.Expired, error) {
	if err := f.failed(); err != nil {
		return abi.Expired{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastNow = now
	return abi.Expired{Pages: []string{"p1"}, Connections: []string{"c1", "c2"}, Users: []string{"u1"}}, nil
}

func (f *fake) Counters(context.Context) (abi.Counters, error) {
	return abi.Counters{Users: 3, Connections: 5, Pages: 8}, f.failed()
}

func (f *fake) Close() error { return nil }

// seen reads a field the server goroutines write, under the fake's lock: the race detector
// does not see the happens-before edge a network round trip provides.
func seen[T any](f *fake, field *T) T {
	f.mu.Lock()
	defer f.mu.Unlock()
	return *field
}

// set writes a field the server goroutines read, under the fake's lock.
func set[T any](f *fake, field *T, v T) {
	f.mu.Lock()
	defer f.mu.Unlock()
	*field = v
}
