package wasm

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/abi/wasmabi"
)

const (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

// hostFunc is one function of the gnr import module with its signature; validation
// compares a module's imports against this table.
type hostFunc struct {
	name    string
	params  []api.ValueType
	results []api.ValueType
	fn      api.GoModuleFunc
}

func rc(code int32) uint64 { return api.EncodeI32(code) }

// read copies len bytes at ptr out of guest memory; ok is false when out of bounds.
func read(mod api.Module, ptr, n uint32) ([]byte, bool) {
	b, ok := mod.Memory().Read(ptr, n)
	if !ok {
		return nil, false
	}
	return append([]byte(nil), b...), true
}

// readKey reads a key or table name at ptr as a string (one copy) if valid says it is.
func readKey(mod api.Module, ptr, n uint32, valid func(string) bool) (string, bool) {
	b, ok := mod.Memory().Read(ptr, n)
	if !ok || n > wasmabi.MaxKeyBytes {
		return "", false
	}
	k := string(b)
	return k, valid(k)
}

// give implements the (buf, cap) -> n convention.
func give(mod api.Module, data []byte, buf, capacity uint32) uint64 {
	n := uint32(len(data))
	if n <= capacity && n > 0 {
		if !mod.Memory().Write(buf, data) {
			return rc(wasmabi.ErrInvalid)
		}
	}
	return rc(int32(n))
}

// The key and table rules are the page contract's (abi), shared with native page plugins.
func validKey(k string) bool { return abi.ValidPageKey(k) }

func validTable(t string) bool { return abi.ValidTableName(t) }

// registryCode maps a registry failure to a host-function code, remembering an outage so
// the call fails with 503 even if the guest ignores the code.
func (st *callState) registryCode(err error) uint64 {
	if errors.Is(err, abi.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		st.hostErr = err
		return rc(wasmabi.ErrUnavailable)
	}
	if errors.Is(err, abi.ErrInvalid) {
		return rc(wasmabi.ErrInvalid)
	}
	st.hostErr = err
	return rc(wasmabi.ErrUnavailable)
}

func hostFuncs() []hostFunc {
	return []hostFunc{
		{wasmabi.FnInput, []api.ValueType{i32, i32}, []api.ValueType{i32}, func(ctx context.Context, mod api.Module, s []uint64) {
			st := stateFrom(ctx)
			s[0] = give(mod, st.call.Input, api.DecodeU32(s[0]), api.DecodeU32(s[1]))
		}},
		{wasmabi.FnMethod, []api.ValueType{i32, i32}, []api.ValueType{i32}, func(ctx context.Context, mod api.Module, s []uint64) {
			st := stateFrom(ctx)
			s[0] = give(mod, []byte(st.call.Method), api.DecodeU32(s[0]), api.DecodeU32(s[1]))
		}},
		{wasmabi.FnPageInfo, []api.ValueType{i32, i32}, []api.ValueType{i32}, func(ctx context.Context, mod api.Module, s []uint64) {
			st := stateFrom(ctx)
			s[0] = give(mod, st.call.Host.PageInfo(), api.DecodeU32(s[0]), api.DecodeU32(s[1]))
		}},
		{wasmabi.FnReply, []api.ValueType{i32, i32}, []api.ValueType{i32}, func(ctx context.Context, mod api.Module, s []uint64) {
			st := stateFrom(ctx)
			n := api.DecodeU32(s[1])
			if n > wasmabi.MaxReplyBytes {
				s[0] = rc(wasmabi.ErrTooLarge)
				return
			}
			b, ok := read(mod, api.DecodeU32(s[0]), n)
			if !ok {
				st.badReply = true
				s[0] = rc(wasmabi.ErrInvalid)
				return
			}
			st.reply, st.replySet = b, true
			s[0] = rc(0)
		}},
		{wasmabi.FnLog, []api.ValueType{i32, i32, i32}, nil, func(ctx context.Context, mod api.Module, s []uint64) {
			st := stateFrom(ctx)
			n := min(api.DecodeU32(s[2]), wasmabi.MaxLogBytes)
			b, ok := read(mod, api.DecodeU32(s[1]), n)
			if !ok {
				return
			}
			st.call.Host.Log(int(api.DecodeI32(s[0])), strings.ToValidUTF8(string(b), "\uFFFD"))
		}},
		{wasmabi.FnStoreGet, []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}, func(ctx context.Context, mod api.Module, s []uint64) {
			st := stateFrom(ctx)
			key, ok := readKey(mod, api.DecodeU32(s[0]), api.DecodeU32(s[1]), validKey)
			if !ok {
				s[0] = rc(wasmabi.ErrInvalid)
				return
			}
			v, found := st.storeGet(key)
			if !found {
				s[0] = rc(wasmabi.ErrNotFound)
				return
			}
			s[0] = give(mod, v, api.DecodeU32(s[2]), api.DecodeU32(s[3]))
		}},
		{wasmabi.FnStoreSet, []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}, func(ctx context.Context, mod api.Module, s []uint64) {
			st := stateFrom(ctx)
			key, val, code := readKeyValue(mod, s)
			if code != 0 {
				s[0] = rc(code)
				return
			}
			if st.call.Host.StoreBytes()+st.pendingBytes+len(key)+len(val) > wasmabi.MaxStoreBytes {
				s[0] = rc(wasmabi.ErrTooLarge)
				return
			}
			st.storeSet(key, val)
			s[0] = rc(0)
		}},
		{wasmabi.FnStoreDelete, []api.ValueType{i32, i32}, []api.ValueType{i32}, func(ctx context.Context, mod api.Module, s []uint64) {
			st := stateFrom(ctx)
			key, ok := readKey(mod, api.DecodeU32(s[0]), api.DecodeU32(s[1]), validKey)
			if !ok {
				s[0] = rc(wasmabi.ErrInvalid)
				return
			}
			st.storeDelete(key)
			s[0] = rc(0)
		}},
		{wasmabi.FnStoreKeys, []api.ValueType{i32, i32}, []api.ValueType{i32}, func(ctx context.Context, mod api.Module, s []uint64) {
			st := stateFrom(ctx)
			b, _ := json.Marshal(st.storeKeys())
			s[0] = give(mod, b, api.DecodeU32(s[0]), api.DecodeU32(s[1]))
		}},
		registerGet(wasmabi.FnUserGet, func(st *callState, key string) ([]byte, bool, error) {
			return st.call.Host.UserGet(st.ctx, key)
		}),
		registerSet(wasmabi.FnUserSet, func(st *callState, key string, v []byte) error {
			return st.call.Host.UserSet(st.ctx, key, v)
		}),
		registerGet(wasmabi.FnGlobalGet, func(st *callState, key string) ([]byte, bool, error) {
			return st.call.Host.GlobalGet(st.ctx, key)
		}),
		registerSet(wasmabi.FnGlobalSet, func(st *callState, key string, v []byte) error {
			return st.call.Host.GlobalSet(st.ctx, key, v)
		}),
		{wasmabi.FnPush, []api.ValueType{i32, i32}, []api.ValueType{i32}, func(ctx context.Context, mod api.Module, s []uint64) {
			st := stateFrom(ctx)
			if st.features&wasmabi.FeaturePush == 0 {
				s[0] = rc(wasmabi.ErrNotPermitted)
				return
			}
			n := api.DecodeU32(s[1])
			if n > wasmabi.MaxPushBytes || len(st.result.Pushes) >= wasmabi.MaxPushesPerCall {
				s[0] = rc(wasmabi.ErrTooLarge)
				return
			}
			b, ok := read(mod, api.DecodeU32(s[0]), n)
			if !ok || !json.Valid(b) {
				s[0] = rc(wasmabi.ErrInvalid)
				return
			}
			st.result.Pushes = append(st.result.Pushes, b)
			s[0] = rc(0)
		}},
		tableFunc(wasmabi.FnSubscribe, true),
		tableFunc(wasmabi.FnUnsubscribe, false),
		{wasmabi.FnPublish, []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}, func(ctx context.Context, mod api.Module, s []uint64) {
			st := stateFrom(ctx)
			table, ok := readKey(mod, api.DecodeU32(s[0]), api.DecodeU32(s[1]), validTable)
			if !ok {
				s[0] = rc(wasmabi.ErrInvalid)
				return
			}
			n := api.DecodeU32(s[3])
			if n > wasmabi.MaxValueBytes || len(st.result.Publishes) >= wasmabi.MaxPublishPerCall {
				s[0] = rc(wasmabi.ErrTooLarge)
				return
			}
			ev, ok := read(mod, api.DecodeU32(s[2]), n)
			if !ok || !abi.IsJSONObject(ev) {
				s[0] = rc(wasmabi.ErrInvalid)
				return
			}
			st.result.Publishes = append(st.result.Publishes, Publish{Table: table, Event: ev})
			s[0] = rc(0)
		}},
		{wasmabi.FnNowMS, nil, []api.ValueType{i64}, func(_ context.Context, _ api.Module, s []uint64) {
			s[0] = api.EncodeI64(time.Now().UnixMilli())
		}},
	}
}

func readKeyValue(mod api.Module, s []uint64) (key string, val []byte, code int32) {
	key, ok := readKey(mod, api.DecodeU32(s[0]), api.DecodeU32(s[1]), validKey)
	if !ok {
		return "", nil, wasmabi.ErrInvalid
	}
	n := api.DecodeU32(s[3])
	if n > wasmabi.MaxValueBytes {
		return "", nil, wasmabi.ErrTooLarge
	}
	val, ok = read(mod, api.DecodeU32(s[2]), n)
	if !ok || !json.Valid(val) {
		return "", nil, wasmabi.ErrInvalid
	}
	return key, val, 0
}

func registerGet(name string, get func(*callState, string) ([]byte, bool, error)) hostFunc {
	return hostFunc{name, []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}, func(ctx context.Context, mod api.Module, s []uint64) {
		st := stateFrom(ctx)
		key, ok := readKey(mod, api.DecodeU32(s[0]), api.DecodeU32(s[1]), validKey)
		if !ok {
			s[0] = rc(wasmabi.ErrInvalid)
			return
		}
		v, found, err := get(st, key)
		switch {
		case err != nil:
			s[0] = st.registryCode(err)
		case !found:
			s[0] = rc(wasmabi.ErrNotFound)
		default:
			s[0] = give(mod, v, api.DecodeU32(s[2]), api.DecodeU32(s[3]))
		}
	}}
}

func registerSet(name string, set func(*callState, string, []byte) error) hostFunc {
	return hostFunc{name, []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}, func(ctx context.Context, mod api.Module, s []uint64) {
		st := stateFrom(ctx)
		key, val, code := readKeyValue(mod, s)
		if code != 0 {
			s[0] = rc(code)
			return
		}
		if err := set(st, key, val); err != nil {
			s[0] = st.registryCode(err)
			return
		}
		s[0] = rc(0)
	}}
}

func tableFunc(name string, subscribe bool) hostFunc {
	return hostFunc{name, []api.ValueType{i32, i32}, []api.ValueType{i32}, func(ctx context.Context, mod api.Module, s []uint64) {
		st := stateFrom(ctx)
		table, ok := readKey(mod, api.DecodeU32(s[0]), api.DecodeU32(s[1]), validTable)
		if !ok {
			s[0] = rc(wasmabi.ErrInvalid)
			return
		}
		if len(st.result.Tables) >= wasmabi.MaxTablesPerPage {
			s[0] = rc(wasmabi.ErrTooLarge)
			return
		}
		st.result.Tables = append(st.result.Tables, TableChange{Table: table, Subscribe: subscribe})
		s[0] = rc(0)
	}}
}

// instantiateHostModule adds the gnr module to a runtime.
func instantiateHostModule(ctx context.Context, r wazero.Runtime) error {
	b := r.NewHostModuleBuilder(wasmabi.ImportModule)
	for _, f := range hostFuncs() {
		b.NewFunctionBuilder().WithGoModuleFunction(guarded(f), f.params, f.results).Export(f.name)
	}
	_, err := b.Instantiate(ctx)
	return err
}

// hostSignatures maps each gnr function to its signature, for import validation.
func hostSignatures() map[string]hostFunc {
	m := map[string]hostFunc{}
	for _, f := range hostFuncs() {
		m[f.name] = f
	}
	return m
}

// pageSpecific are the functions a shared event (feature SHARED_EVENTS) may not use:
// what differs between the pages it serves (their identity, stores and users) and what
// would happen once instead of once per page (global writes, publishes, subscriptions).
var pageSpecific = map[string]bool{
	wasmabi.FnPageInfo: true, wasmabi.FnStoreGet: true, wasmabi.FnStoreKeys: true,
	wasmabi.FnUserGet: true, wasmabi.FnUserSet: true, wasmabi.FnGlobalSet: true,
	wasmabi.FnPublish: true, wasmabi.FnSubscribe: true, wasmabi.FnUnsubscribe: true,
}

// guarded refuses calls made outside an entry point (from _initialize or gnr_features),
// where there is no page to act on, and page-specific calls in a shared event.
func guarded(f hostFunc) api.GoModuleFunc {
	if f.name == wasmabi.FnNowMS || f.name == wasmabi.FnLog {
		return func(ctx context.Context, mod api.Module, s []uint64) {
			if f.name == wasmabi.FnLog && stateFrom(ctx) == nil {
				return
			}
			f.fn(ctx, mod, s)
		}
	}
	restricted := pageSpecific[f.name]
	return func(ctx context.Context, mod api.Module, s []uint64) {
		st := stateFrom(ctx)
		if st == nil || restricted && st.shared {
			if len(f.results) > 0 {
				s[0] = rc(wasmabi.ErrNotPermitted)
			}
			return
		}
		f.fn(ctx, mod, s)
	}
}
