package pages

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sort"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/host/wasm"
)

// pageRef is what a call needs to know of its page, whatever its lifecycle.
type pageRef struct {
	ID, ConnectionID, User, Route string
	Lifecycle                     string
}

// store is a page store held in memory for the length of a call (ephemeral) or the life
// of the page (resident).
type store struct {
	data  map[string][]byte
	bytes int
}

func newStore(data map[string]json.RawMessage) *store {
	s := &store{data: make(map[string][]byte, len(data))}
	for k, v := range data {
		s.data[k] = v
		s.bytes += len(k) + len(v)
	}
	return s
}

func (s *store) apply(changes []wasm.StoreChange) {
	for _, c := range changes {
		if old, ok := s.data[c.Key]; ok {
			s.bytes -= len(c.Key) + len(old)
			delete(s.data, c.Key)
		}
		if !c.Delete {
			s.data[c.Key] = c.Value
			s.bytes += len(c.Key) + len(c.Value)
		}
	}
}

func (s *store) keys() []string {
	keys := make([]string, 0, len(s.data))
	for k := range s.data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// callHost is the wasm.Host of one call: the page's store (read-only here), its user's
// and the site's registers through the registry, and the log.
type callHost struct {
	m     *Manager
	page  pageRef
	store *store
	info  []byte
}

func newCallHost(m *Manager, p pageRef, s *store) *callHost {
	info, _ := json.Marshal(map[string]string{
		"page_id": p.ID, "connection_id": p.ConnectionID, "user": p.User, "route": p.Route, "lifecycle": p.Lifecycle,
	})
	return &callHost{m: m, page: p, store: s, info: info}
}

func (h *callHost) PageInfo() []byte { return h.info }

func (h *callHost) StoreGet(key string) ([]byte, bool) {
	v, ok := h.store.data[key]
	return v, ok
}

func (h *callHost) StoreKeys() []string { return h.store.keys() }
func (h *callHost) StoreBytes() int     { return h.store.bytes }

func (h *callHost) userRef() abi.ItemRef {
	return abi.ItemRef{Register: abi.RegisterUser, ID: h.page.User}
}

var globalRef = abi.ItemRef{Register: abi.RegisterGlobal, ID: abi.GlobalItemID}

func (h *callHost) UserGet(ctx context.Context, key string) ([]byte, bool, error) {
	v, ok, err := h.m.cfg.Registry.GetData(ctx, h.userRef(), key)
	if errors.Is(err, abi.ErrNotFound) {
		return nil, false, nil
	}
	return v, ok, err
}

func (h *callHost) UserSet(ctx context.Context, key string, value []byte) error {
	err := h.m.cfg.Registry.SetData(ctx, h.userRef(), key, value)
	if errors.Is(err, abi.ErrNotFound) {
		// The user's item is made on its first write, as gnrdaemon's new_user would.
		if err = h.m.cfg.Registry.AddItem(ctx, abi.Item{Register: abi.RegisterUser, ID: h.page.User, User: h.page.User}); err == nil {
			err = h.m.cfg.Registry.SetData(ctx, h.userRef(), key, value)
		}
	}
	return err
}

func (h *callHost) GlobalGet(ctx context.Context, key string) ([]byte, bool, error) {
	return h.m.cfg.Registry.GetData(ctx, globalRef, key)
}

func (h *callHost) GlobalSet(ctx context.Context, key string, value []byte) error {
	return h.m.cfg.Registry.SetData(ctx, globalRef, key, value)
}

func (h *callHost) Log(level int, msg string) {
	lv := [...]int{-4, 0, 4, 8}
	l := 0
	if level >= 0 && level < len(lv) {
		l = lv[level]
	}
	h.m.logger.Log(context.Background(), slog.Level(l), msg, "page_id", h.page.ID, "route", h.page.Route, "source", "guest")
}
