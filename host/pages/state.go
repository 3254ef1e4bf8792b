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

// bytesAfter is the store's size once changes are applied.
func (s *store) bytesAfter(changes []wasm.StoreChange) int {
	// A few changes (the usual case) are compared with each other; many go through a map,
	// so a call that wrote thousands of keys costs linear time per page.
	var last map[string]int // size of each key after its latest change so far
	if len(changes) > 16 {
		last = make(map[string]int, len(changes))
	}
	n := s.bytes
	for i, c := range changes {
		// The size c.Key has before c: that of its latest earlier change, or the store's.
		old, found := 0, false
		if last != nil {
			old, found = last[c.Key]
		} else {
			for j := i - 1; j >= 0; j-- {
				if changes[j].Key == c.Key {
					if !changes[j].Delete {
						old = len(c.Key) + len(changes[j].Value)
					}
					found = true
					break
				}
			}
		}
		if !found {
			if v, had := s.data[c.Key]; had {
				old = len(c.Key) + len(v)
			}
		}
		size := 0
		if !c.Delete {
			size = len(c.Key) + len(c.Value)
		}
		n += size - old
		if last != nil {
			last[c.Key] = size
		}
	}
	return n
}

func (s *store) keys() []string {
	keys := make([]string, 0, len(s.data))
	for k := range s.data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// callHost is the wasm.Host of a page's calls (one at a time): the page's store
// (read-only here), its user's and the site's registers through the registry, and the
// log.
type callHost struct {
	m     *Manager
	page  pageRef
	store *store
	info  []byte // page_info, made when a call first asks for it
}

func newCallHost(m *Manager, p pageRef, s *store) *callHost {
	return &callHost{m: m, page: p, store: s}
}

func (h *callHost) PageInfo() []byte {
	if h.info == nil {
		h.info, _ = json.Marshal(map[string]string{
			"page_id": h.page.ID, "connection_id": h.page.ConnectionID, "user": h.page.User, "route": h.page.Route, "lifecycle": h.page.Lifecycle,
		})
	}
	return h.info
}

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
	h.m.logger.Log(context.Background(), guestLevel(level), msg, "page_id", h.page.ID, "route", h.page.Route, "source", "guest")
}

// guestLevel maps an ABI log level (0 debug .. 3 error) to slog's.
func guestLevel(level int) slog.Level {
	lv := [...]slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError}
	if level >= 0 && level < len(lv) {
		return lv[level]
	}
	return slog.LevelInfo
}
