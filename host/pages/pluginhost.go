package pages

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/abi/wasmabi"
	"github.com/gnrhost/gnrhost/host/wasm"
)

// pluginHost is the abi.PageHost of one plugin call, backed by the call's wasm.Host. It
// applies to the plugin's callbacks the checks the WASM host functions apply to a
// module's (keys, JSON values, sizes), and remembers a registry failure so the call
// fails with 503 whatever the plugin makes of it, as a WASM call does.
type pluginHost struct {
	host wasm.Host

	mu  sync.Mutex // callbacks may come from several plugin goroutines at once
	err error      // first registry failure
}

var _ abi.PageHost = (*pluginHost)(nil)

func (p *pluginHost) failure() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// registryErr passes on a registry error. An invalid argument is the plugin's problem;
// anything else is the registry's, so it is remembered and reported as unavailable.
func (p *pluginHost) registryErr(err error) error {
	if err == nil || errors.Is(err, abi.ErrInvalid) {
		return err
	}
	p.mu.Lock()
	if p.err == nil {
		p.err = err
	}
	p.mu.Unlock()
	if errors.Is(err, abi.ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %w", abi.ErrUnavailable, err)
}

func checkKey(key string) error {
	if !abi.ValidPageKey(key) {
		return fmt.Errorf("key %.40q: expected 1-%d bytes of UTF-8 without control characters: %w", key, wasmabi.MaxKeyBytes, abi.ErrInvalid)
	}
	return nil
}

func checkValue(key string, value []byte) error {
	if len(value) > wasmabi.MaxValueBytes {
		return fmt.Errorf("value of %.40q is %d bytes, over %d: %w", key, len(value), wasmabi.MaxValueBytes, abi.ErrTooLarge)
	}
	if !json.Valid(value) {
		return fmt.Errorf("value of %.40q is not JSON: %w", key, abi.ErrInvalid)
	}
	return nil
}

func (p *pluginHost) get(ctx context.Context, key string, get func(context.Context, string) ([]byte, bool, error)) ([]byte, bool, error) {
	if err := checkKey(key); err != nil {
		return nil, false, err
	}
	v, ok, err := get(ctx, key)
	return v, ok, p.registryErr(err)
}

func (p *pluginHost) set(ctx context.Context, key string, value []byte, set func(context.Context, string, []byte) error) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := checkValue(key, value); err != nil {
		return err
	}
	return p.registryErr(set(ctx, key, value))
}

func (p *pluginHost) UserGet(ctx context.Context, key string) ([]byte, bool, error) {
	return p.get(ctx, key, p.host.UserGet)
}

func (p *pluginHost) UserSet(ctx context.Context, key string, value []byte) error {
	return p.set(ctx, key, value, p.host.UserSet)
}

func (p *pluginHost) GlobalGet(ctx context.Context, key string) ([]byte, bool, error) {
	return p.get(ctx, key, p.host.GlobalGet)
}

func (p *pluginHost) GlobalSet(ctx context.Context, key string, value []byte) error {
	return p.set(ctx, key, value, p.host.GlobalSet)
}

// Log cuts the line at the ABI's 8 KiB, as the WASM log function does.
func (p *pluginHost) Log(_ context.Context, level int, msg string) {
	if len(msg) > wasmabi.MaxLogBytes {
		msg = msg[:wasmabi.MaxLogBytes]
	}
	p.host.Log(level, strings.ToValidUTF8(msg, "\uFFFD"))
}
