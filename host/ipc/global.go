package ipc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gnrhost/gnrhost/abi"
)

// MaxGlobalValueBytes bounds one value of the shared global store (the bucket's
// max_value_size).
const MaxGlobalValueBytes = 1 << 20

// GlobalStore is the global register's store, shared by every process of a site in a
// JetStream key-value bucket: one key per store path (see kvKey), the value its JSON.
// The bucket is made on first use, so a host whose NATS is down starts anyway; until it
// is reachable, calls fail with abi.ErrUnavailable.
type GlobalStore struct {
	lazyBucket
}

// lazyBucket is a key-value bucket opened (created when missing) on first use.
type lazyBucket struct {
	bus *Bus
	cfg jetstream.KeyValueConfig

	mu sync.Mutex
	kv jetstream.KeyValue
}

func (g *lazyBucket) bucket(ctx context.Context) (jetstream.KeyValue, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.kv != nil {
		return g.kv, nil
	}
	js, err := jetstream.New(g.bus.nc)
	if err != nil {
		return nil, g.fail("open jetstream", err)
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, g.cfg)
	if err != nil {
		return nil, g.fail("open bucket "+g.cfg.Bucket, err)
	}
	g.kv = kv
	return kv, nil
}

// fail counts a key-value error and wraps it; errors of the connection (and of a server
// without JetStream) become abi.ErrUnavailable, so a page gets 503 rather than 500.
func (g *lazyBucket) fail(what string, err error) error {
	g.bus.count("", "kv")
	// A request sent while the connection is down waits in the reconnect buffer until
	// the caller's deadline: that is the server being away, not the caller being late.
	if !g.bus.nc.IsConnected() || errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, nats.ErrTimeout) || errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, nats.ErrConnectionReconnecting) {
		return fmt.Errorf("ipc: bucket %s: %s: %v: %w", g.cfg.Bucket, what, err, abi.ErrUnavailable)
	}
	return fmt.Errorf("ipc: bucket %s: %s: %w", g.cfg.Bucket, what, err)
}

func newGlobalStore(b *Bus) *GlobalStore {
	return &GlobalStore{lazyBucket{bus: b, cfg: jetstream.KeyValueConfig{
		Bucket:       b.subjects.Bucket,
		Description:  "gnrhost global register store of " + b.subjects.Prefix,
		History:      1,
		MaxValueSize: MaxGlobalValueBytes,
		Storage:      jetstream.FileStorage,
	}}}
}

// Get returns the value at path; ok is false when it is unset.
func (g *GlobalStore) Get(ctx context.Context, path string) (json.RawMessage, bool, error) {
	kv, err := g.bucket(ctx)
	if err != nil {
		return nil, false, err
	}
	e, err := kv.Get(ctx, kvKey(path))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, g.fail("get "+path, err)
	}
	return json.RawMessage(e.Value()), true, nil
}

// Set sets path to value (valid JSON, at most MaxGlobalValueBytes).
func (g *GlobalStore) Set(ctx context.Context, path string, value json.RawMessage) error {
	if path == "" || !json.Valid(value) {
		return fmt.Errorf("ipc: global store: set %q: empty path or invalid JSON: %w", path, abi.ErrInvalid)
	}
	if len(value) > MaxGlobalValueBytes {
		return fmt.Errorf("ipc: global store: set %q: %d bytes is over the %d-byte limit: %w", path, len(value), MaxGlobalValueBytes, abi.ErrInvalid)
	}
	kv, err := g.bucket(ctx)
	if err != nil {
		return err
	}
	if _, err := kv.Put(ctx, kvKey(path), value); err != nil {
		return g.fail("set "+path, err)
	}
	return nil
}

// Delete removes path; an unset path is not an error.
func (g *GlobalStore) Delete(ctx context.Context, path string) error {
	kv, err := g.bucket(ctx)
	if err != nil {
		return err
	}
	if err := kv.Delete(ctx, kvKey(path)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return g.fail("delete "+path, err)
	}
	return nil
}

// Keys lists the paths set, sorted.
func (g *GlobalStore) Keys(ctx context.Context) ([]string, error) {
	kv, err := g.bucket(ctx)
	if err != nil {
		return nil, err
	}
	lister, err := kv.ListKeys(ctx)
	if err != nil {
		return nil, g.fail("list keys", err)
	}
	defer func() { _ = lister.Stop() }()
	paths := []string{}
	for key := range lister.Keys() {
		p, err := kvPath(key)
		if err != nil {
			return nil, err
		}
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return paths, nil
}

// All returns a copy of the whole store. It reads key by key: a concurrent writer's
// change may be seen for some keys and not others.
func (g *GlobalStore) All(ctx context.Context) (map[string]json.RawMessage, error) {
	paths, err := g.Keys(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]json.RawMessage, len(paths))
	for _, p := range paths {
		v, ok, err := g.Get(ctx, p)
		if err != nil {
			return nil, err
		}
		if ok {
			out[p] = v
		}
	}
	return out, nil
}

// Replace makes the store hold exactly store: its paths are set, others deleted.
func (g *GlobalStore) Replace(ctx context.Context, store map[string]json.RawMessage) error {
	for p, v := range store {
		if p == "" || !json.Valid(v) || len(v) > MaxGlobalValueBytes {
			return fmt.Errorf("ipc: global store: replace: path %q: empty, invalid JSON or too large: %w", p, abi.ErrInvalid)
		}
	}
	old, err := g.Keys(ctx)
	if err != nil {
		return err
	}
	for _, p := range old {
		if _, keep := store[p]; !keep {
			if err := g.Delete(ctx, p); err != nil {
				return err
			}
		}
	}
	for p, v := range store {
		if err := g.Set(ctx, p, v); err != nil {
			return err
		}
	}
	return nil
}
