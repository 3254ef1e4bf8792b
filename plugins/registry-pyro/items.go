package registrypyro

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/plugins/registry-pyro/internal/pyro"
)

// guestKey marks a guest connection whose user name does not say so. gnrdaemon decides
// "guest" by the user name's prefix guest_; the contract has a flag, kept in the item
// dict under this extra key when the two disagree (items are plain dicts daemon-side).
const guestKey = "gnrhost_guest"

func isGuestName(user string) bool { return strings.HasPrefix(user, "guest_") }

// itemFrom reads an item dict as gnrdaemon returns it. It reads the decoded map[any]any
// as is: converting it with pyro.Dict first built a second map of every key on each
// GetItem. None reads as an empty item, as pyro.Dict made it.
func itemFrom(register abi.RegisterName, v any) (abi.Item, error) {
	m, ok := v.(map[any]any)
	if !ok && v != nil {
		_, err := pyro.Dict(v) // its error names what came instead of a dict
		return abi.Item{}, fmt.Errorf("item: %w", err)
	}
	it := abi.Item{
		Register:       register,
		ID:             str(m, "register_item_id"),
		User:           str(m, "user"),
		UserID:         str(m, "user_id"),
		UserName:       str(m, "user_name"),
		UserTags:       str(m, "user_tags"),
		ConnectionID:   str(m, "connection_id"),
		ConnectionName: str(m, "connection_name"),
		PageName:       str(m, "pagename"),
		RelativeURL:    str(m, "relative_url"),
		UserIP:         str(m, "user_ip"),
		UserAgent:      str(m, "user_agent"),
		BrowserName:    str(m, "browser_name"),
		StartTS:        ts(m, "start_ts"),
		LastUserTS:     ts(m, "last_user_ts"),
		LastRPCTS:      ts(m, "last_rpc_ts"),
		LastRefreshTS:  ts(m, "last_refresh_ts"),
	}
	if register == abi.RegisterGlobal {
		return abi.Item{Register: register, ID: abi.GlobalItemID, StartTS: it.StartTS,
			LastUserTS: it.LastUserTS, LastRPCTS: it.LastRPCTS, LastRefreshTS: it.LastRefreshTS}, nil
	}
	if register == abi.RegisterConnection {
		it.Guest = isGuestName(it.User)
		if g, ok := m[guestKey].(bool); ok {
			it.Guest = g
		}
	}
	if register == abi.RegisterPage {
		it.SubscribedTables = strList(m["subscribed_tables"])
	}
	return it, nil
}

// identity is the update_item dict that rewrites an existing item's identity fields.
func identity(item abi.Item) map[string]any {
	m := map[string]any{"user": item.User}
	set := func(k, v string) { m[k] = v }
	switch item.Register {
	case abi.RegisterUser:
		set("user_id", item.UserID)
		set("user_name", item.UserName)
		set("user_tags", item.UserTags)
	case abi.RegisterConnection:
		set("user_id", item.UserID)
		set("user_name", item.UserName)
		set("user_tags", item.UserTags)
		set("connection_name", item.ConnectionName)
		set("user_ip", item.UserIP)
		set("user_agent", item.UserAgent)
		set("browser_name", item.BrowserName)
		m[guestKey] = item.Guest
	case abi.RegisterPage:
		set("connection_id", item.ConnectionID)
		set("pagename", item.PageName)
		set("relative_url", item.RelativeURL)
		set("user_ip", item.UserIP)
		set("user_agent", item.UserAgent)
		m["subscribed_tables"] = uniqueTables(item.SubscribedTables)
	}
	return m
}

func uniqueTables(tables []string) []any {
	out := make([]any, 0, len(tables))
	seen := map[string]bool{}
	for _, t := range tables {
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}

// create is the new_user / new_connection / new_page call for a new item.
func create(item abi.Item) pyro.BatchCall {
	switch item.Register {
	case abi.RegisterUser:
		return pyro.BatchCall{Method: "new_user", Kwargs: map[string]any{"user": item.ID,
			"user_tags": item.UserTags, "user_id": item.UserID, "user_name": item.UserName}}
	case abi.RegisterConnection:
		return pyro.BatchCall{Method: "new_connection", Args: []any{item.ID}, Kwargs: map[string]any{
			"connection_name": item.ConnectionName, "user": item.User, "user_id": item.UserID,
			"user_name": item.UserName, "user_tags": item.UserTags, "user_ip": item.UserIP,
			"user_agent": item.UserAgent, "browser_name": item.BrowserName}}
	default:
		return pyro.BatchCall{Method: "new_page", Args: []any{item.ID}, Kwargs: map[string]any{
			"pagename": item.PageName, "connection_id": item.ConnectionID, "user": item.User,
			"user_ip": item.UserIP, "user_agent": item.UserAgent, "relative_url": item.RelativeURL}}
	}
}

// AddItem creates the item with new_user / new_connection / new_page, or rewrites the
// identity of an existing one with update_item (new_connection refuses an existing id,
// and recreating would lose the store the contract keeps).
func (r *Registry) AddItem(ctx context.Context, item abi.Item) error {
	ref := abi.ItemRef{Register: item.Register, ID: item.ID}
	if err := checkRef(ref); err != nil {
		return fmt.Errorf("registry-pyro: AddItem: %w", err)
	}
	if item.Register == abi.RegisterGlobal {
		return fmt.Errorf("registry-pyro: AddItem: %w: the global item always exists", abi.ErrInvalid)
	}
	if item.Register == abi.RegisterUser {
		if item.User == "" {
			item.User = item.ID
		} else if item.User != item.ID {
			return fmt.Errorf("registry-pyro: AddItem: %w: User %q differs from the id", abi.ErrInvalid, item.User)
		}
	}
	var store map[string]any
	if item.Data != nil {
		var err error
		if store, err = pythonStore(item.Data); err != nil {
			return fmt.Errorf("registry-pyro: AddItem: %w", err)
		}
	}
	return r.do(ctx, "AddItem", false, func(ctx context.Context, s *site) error {
		checks := []pyro.BatchCall{{Method: "exists", Args: []any{item.ID}, Kwargs: reg(item.Register, nil)}}
		needConn := item.Register == abi.RegisterPage && item.ConnectionID != ""
		if needConn {
			checks = append(checks, pyro.BatchCall{Method: "exists", Args: []any{item.ConnectionID}, Kwargs: reg(abi.RegisterConnection, nil)})
		}
		res, err := s.register.Batch(ctx, checks)
		if err != nil {
			return err
		}
		if needConn && res[1] != true {
			return fmt.Errorf("%w: page %q: connection %q does not exist", abi.ErrNotFound, item.ID, item.ConnectionID)
		}
		var calls []pyro.BatchCall
		if res[0] == true {
			calls = append(calls, pyro.BatchCall{Method: "update_item", Args: []any{item.ID, identity(item)}, Kwargs: reg(item.Register, nil)})
		} else {
			calls = append(calls, create(item))
			if item.Register == abi.RegisterPage && len(item.SubscribedTables) > 0 {
				// SiteRegister.new_page drops subscribed_tables (Genropy pages subscribe
				// afterwards); set the list in the same request.
				calls = append(calls, pyro.BatchCall{Method: "update_item", Args: []any{item.ID,
					map[string]any{"subscribed_tables": uniqueTables(item.SubscribedTables)}}, Kwargs: reg(item.Register, nil)})
			}
			if item.Register == abi.RegisterConnection && item.Guest != isGuestName(item.User) {
				calls = append(calls, pyro.BatchCall{Method: "update_item", Args: []any{item.ID, map[string]any{guestKey: item.Guest}}, Kwargs: reg(item.Register, nil)})
			}
		}
		if _, err := s.register.Batch(ctx, calls); err != nil {
			return err
		}
		if store != nil {
			return replaceStore(ctx, s, ref, store)
		}
		return nil
	})
}

// GetItem reads the item, and its store with includeData, in one request.
func (r *Registry) GetItem(ctx context.Context, ref abi.ItemRef, includeData bool) (abi.Item, error) {
	if err := checkRef(ref); err != nil {
		return abi.Item{}, fmt.Errorf("registry-pyro: GetItem: %w", err)
	}
	var it abi.Item
	err := r.do(ctx, "GetItem", true, func(ctx context.Context, s *site) error {
		var res []any
		if includeData {
			var err error
			res, err = s.register.BatchRetried(ctx, []pyro.BatchCall{
				{Method: "get_item", Args: []any{ref.ID}, Kwargs: reg(ref.Register, nil)},
				{Method: "get_item_data", Args: []any{ref.ID}, Kwargs: reg(ref.Register, nil)},
			})
			if err != nil {
				return err
			}
		} else {
			// The most frequent call of all: a plain invoke, no batch wrapper, and
			// Retried (do repeats reads) so a connection in steady use is not probed.
			v, err := s.register.CallRetried(ctx, "get_item", []any{ref.ID}, reg(ref.Register, nil))
			if err != nil {
				return err
			}
			res = []any{v}
		}
		if res[0] == nil {
			return notFound(ref)
		}
		var err error
		if it, err = itemFrom(ref.Register, res[0]); err != nil {
			return err
		}
		if includeData {
			it.Data, err = jsonStore(res[1])
		}
		return err
	})
	return it, err
}

func notFound(ref abi.ItemRef) error {
	return fmt.Errorf("%w: %s %q", abi.ErrNotFound, ref.Register, ref.ID)
}

// Exists asks the item's register.
func (r *Registry) Exists(ctx context.Context, ref abi.ItemRef) (bool, error) {
	if err := checkRef(ref); err != nil {
		return false, fmt.Errorf("registry-pyro: Exists: %w", err)
	}
	var ok bool
	err := r.do(ctx, "Exists", true, func(ctx context.Context, s *site) error {
		v, err := s.register.CallRetried(ctx, "exists", []any{ref.ID}, reg(ref.Register, nil))
		ok = v == true
		return err
	})
	return ok, err
}

// Keys lists a register's ids, sorted.
func (r *Registry) Keys(ctx context.Context, register abi.RegisterName) ([]string, error) {
	if !register.Valid() {
		return nil, fmt.Errorf("registry-pyro: Keys: %w: unknown register %q", abi.ErrInvalid, register)
	}
	var keys []string
	err := r.do(ctx, "Keys", true, func(ctx context.Context, s *site) error {
		v, err := s.call(ctx, "keys", nil, reg(register, nil))
		keys = sortedStrings(v)
		return err
	})
	return keys, err
}

// Items reads every item of the register (values) and filters here: gnrdaemon's pages()
// filters take regular expressions, which an id would have to be escaped for.
func (r *Registry) Items(ctx context.Context, register abi.RegisterName, filter abi.ItemFilter) ([]abi.Item, error) {
	if !register.Valid() {
		return nil, fmt.Errorf("registry-pyro: Items: %w: unknown register %q", abi.ErrInvalid, register)
	}
	var items []abi.Item
	err := r.do(ctx, "Items", true, func(ctx context.Context, s *site) error {
		v, err := s.call(ctx, "values", nil, reg(register, nil))
		if err != nil {
			return err
		}
		items, err = itemsFrom(register, v, filter)
		return err
	})
	return items, err
}

func itemsFrom(register abi.RegisterName, v any, filter abi.ItemFilter) ([]abi.Item, error) {
	list, _ := v.([]any)
	items := make([]abi.Item, 0, len(list))
	for _, raw := range list {
		it, err := itemFrom(register, raw)
		if err != nil {
			return nil, err
		}
		if filter.User != "" && it.User != filter.User {
			continue
		}
		if filter.ConnectionID != "" && it.ConnectionID != filter.ConnectionID {
			continue
		}
		items = append(items, it)
	}
	slices.SortFunc(items, func(a, b abi.Item) int { return strings.Compare(a.ID, b.ID) })
	return items, nil
}

// DropItem: without cascade only the item goes (the register's drop_item); with it, a
// connection takes its pages (drop_connection) and a user its connections and their
// pages (drop_user). gnrdaemon's own cascade flag means something else (drop the owner
// when it has nothing left) and is not used.
func (r *Registry) DropItem(ctx context.Context, ref abi.ItemRef, cascade bool) error {
	if err := checkRef(ref); err != nil {
		return fmt.Errorf("registry-pyro: DropItem: %w", err)
	}
	if ref.Register == abi.RegisterGlobal {
		return fmt.Errorf("registry-pyro: DropItem: %w: the global item cannot be dropped", abi.ErrInvalid)
	}
	drop := pyro.BatchCall{Method: "drop_item", Args: []any{ref.ID}, Kwargs: reg(ref.Register, nil)}
	if cascade {
		switch ref.Register {
		case abi.RegisterConnection:
			drop = pyro.BatchCall{Method: "drop_connection", Args: []any{ref.ID}}
		case abi.RegisterUser:
			drop = pyro.BatchCall{Method: "drop_user", Args: []any{ref.ID}}
		}
	}
	return r.do(ctx, "DropItem", false, func(ctx context.Context, s *site) error {
		res, err := s.register.Batch(ctx, []pyro.BatchCall{
			{Method: "exists", Args: []any{ref.ID}, Kwargs: reg(ref.Register, nil)}, drop})
		if err != nil {
			return err
		}
		if res[0] != true {
			return notFound(ref)
		}
		return nil
	})
}

// Touch sets the item's activity timestamps with update_item. (gnrdaemon's refresh()
// works on a page and its connection and user together; the contract touches one item.)
func (r *Registry) Touch(ctx context.Context, ref abi.ItemRef, kind abi.RefreshKind) error {
	if err := checkRef(ref); err != nil {
		return fmt.Errorf("registry-pyro: Touch: %w", err)
	}
	now := time.Now()
	upd := map[string]any{"last_refresh_ts": now}
	switch kind {
	case abi.RefreshPing:
	case abi.RefreshUser:
		upd["last_user_ts"] = now
	case abi.RefreshRPC:
		upd["last_rpc_ts"] = now
	default:
		return fmt.Errorf("registry-pyro: Touch: %w: unknown refresh kind %d", abi.ErrInvalid, kind)
	}
	return r.do(ctx, "Touch", false, func(ctx context.Context, s *site) error {
		v, err := s.call(ctx, "update_item", []any{ref.ID, upd}, reg(ref.Register, nil))
		if err == nil && v == nil {
			return notFound(ref)
		}
		return err
	})
}

// Counters reads counters().
func (r *Registry) Counters(ctx context.Context) (abi.Counters, error) {
	var c abi.Counters
	err := r.do(ctx, "Counters", true, func(ctx context.Context, s *site) error {
		v, err := s.call(ctx, "counters", nil, nil)
		if err != nil {
			return err
		}
		m, err := pyro.Dict(v)
		if err != nil {
			return err
		}
		n := func(k string) int { i, _ := m[k].(int64); return int(i) }
		c = abi.Counters{Users: n("users"), Connections: n("connections"), Pages: n("pages")}
		return nil
	})
	return c, err
}

// pythonStore checks a contract store and converts it for the daemon.
func pythonStore(store map[string]json.RawMessage) (map[string]any, error) {
	out := make(map[string]any, len(store))
	for path, raw := range store {
		if err := checkPath(path); err != nil {
			return nil, err
		}
		v, err := fromJSON(raw)
		if err != nil {
			return nil, fmt.Errorf("store path %q: %w", path, err)
		}
		out[path] = v
	}
	return out, nil
}
