package wasm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/gnrhost/gnrhost/abi/wasmabi"
)

// acquire takes an instance slot (waiting until one is free or ctx ends) and returns it
// with an idle instance, or nil when the caller must instantiate a fresh one in that slot.
func (m *Module) acquire(ctx context.Context) (int, *instance, error) {
	var slot int
	// A free slot is taken without asking ctx for its Done channel: some contexts make
	// a timer only when one is asked for (pages' event deliveries).
	select {
	case slot = <-m.free:
	default:
		select {
		case slot = <-m.free:
		case <-m.done:
			return 0, nil, &CallError{Kind: KindClosed, Module: m.cfg.Name, Err: ErrModuleClosed}
		case <-ctx.Done():
			return 0, nil, &CallError{Kind: KindBusy, Module: m.cfg.Name, Err: fmt.Errorf("no instance free: %w", ctx.Err())}
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		m.free <- slot
		return 0, nil, &CallError{Kind: KindClosed, Module: m.cfg.Name, Err: ErrModuleClosed}
	}
	if n := len(m.idle); n > 0 {
		inst := m.idle[n-1]
		m.idle = m.idle[:n-1]
		return slot, inst, nil
	}
	return slot, nil, nil
}

// release gives back a slot; a healthy instance returns to the pool, any other is closed
// and never reused (the next call in that slot instantiates a fresh one).
func (m *Module) release(slot int, inst *instance, healthy bool) {
	m.mu.Lock()
	keep := healthy && inst != nil && !m.closed
	if keep {
		m.idle = append(m.idle, inst)
	}
	m.mu.Unlock()
	if !keep && inst != nil {
		_ = inst.mod.Close(context.Background())
	}
	m.free <- slot
}

// Call runs one entry point on a pooled instance. A guest error (status 1) is a Result,
// not an error; runtime failures are *CallError.
func (m *Module) Call(ctx context.Context, call *Call) (*Result, error) {
	slot, inst, err := m.acquire(ctx)
	if err != nil {
		return nil, err
	}
	if inst == nil {
		if inst, err = m.instantiate(ctx); err != nil {
			m.release(slot, nil, false)
			return nil, &CallError{Kind: KindTrap, Module: m.cfg.Name, Entry: call.Entry, Err: fmt.Errorf("instantiate: %w", err)}
		}
	}
	res, healthy, err := m.run(ctx, slot, inst, call)
	m.release(slot, inst, healthy)
	return res, err
}

func (m *Module) entryFunc(inst *instance, e Entry) api.Function {
	switch e {
	case EntryLoad:
		return inst.load
	case EntryRPC:
		return inst.rpc
	case EntryEvent:
		if m.features&wasmabi.FeatureEvents != 0 {
			return inst.event
		}
	case EntryClose:
		if m.features&wasmabi.FeatureClose != 0 {
			return inst.close
		}
	}
	return nil
}

// Wants reports whether the module takes calls at e (events and close are optional).
func (m *Module) Wants(e Entry) bool {
	switch e {
	case EntryEvent:
		return m.features&wasmabi.FeatureEvents != 0
	case EntryClose:
		return m.features&wasmabi.FeatureClose != 0
	}
	return true
}

func (m *Module) run(ctx context.Context, slot int, inst *instance, call *Call) (*Result, bool, error) {
	fn := m.entryFunc(inst, call.Entry)
	if fn == nil {
		return &Result{Status: wasmabi.StatusOK}, true, nil
	}
	if err := ctx.Err(); err != nil {
		// The caller gave up before the call started: the instance is untouched.
		return nil, true, &CallError{Kind: KindTimeout, Module: m.cfg.Name, Entry: call.Entry, Err: err}
	}
	deadline := time.Now().Add(m.cfg.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	// The instance's call state is reused: one call at a time runs on an instance.
	st := &inst.state
	st.reset(inst.ctx, call, m.features)
	inst.watch.begin(ctx, deadline)
	m.startWatch(slot, inst)
	// The instance's context has the instance's kill channel for Done, which the
	// watchdog closes past the deadline; wazero then stops the guest at its next check.
	// The stack holds the entry's i32 result (entries take no parameters).
	err := fn.CallWithStack(inst.ctx, inst.stack[:])
	m.stopWatching(slot)
	killed := inst.watch.end()
	defer st.release()
	if err != nil {
		return nil, false, m.classify(inst, call.Entry, killed, err)
	}
	// A call the watchdog stopped just as it returned is fine, but its instance has a
	// closed kill channel and cannot run another call.
	healthy := killed == notKilled
	if st.badReply {
		return nil, healthy, &CallError{Kind: KindTrap, Module: m.cfg.Name, Entry: call.Entry,
			Err: errors.New("the guest passed reply a pointer or length outside its memory")}
	}
	if st.hostErr != nil {
		// The registry failed under the guest; whatever the guest made of it, the call
		// cannot be trusted, but the instance is fine.
		return nil, healthy, &CallError{Kind: KindUnavailable, Module: m.cfg.Name, Entry: call.Entry, Err: st.hostErr}
	}
	res := &Result{}
	switch status := api.DecodeI32(inst.stack[0]); status {
	case wasmabi.StatusOK:
		*res = st.result
		res.Status = wasmabi.StatusOK
		res.Reply = st.reply
	default:
		// A failed call changes nothing on the page.
		*res = Result{Status: wasmabi.StatusError, Reply: errorReply(status, st.reply, st.replySet)}
	}
	return res, healthy, nil
}

func (m *Module) classify(inst *instance, e Entry, killed int, err error) error {
	kind := KindTrap
	var exit *sys.ExitError
	switch {
	case errors.As(err, &exit) && (exit.ExitCode() == sys.ExitCodeDeadlineExceeded || exit.ExitCode() == sys.ExitCodeContextCanceled):
		kind = KindTimeout
	case killed != notKilled:
		kind = KindTimeout
	case memoryExhausted(inst, m.cfg.MemoryLimit):
		kind = KindMemory
	}
	ce := &CallError{Kind: kind, Module: m.cfg.Name, Entry: e, Err: err}
	m.logger.Warn("wasm call failed; instance discarded", "entry", e.String(), "kind", kind.String(), "err", err)
	return ce
}

// memoryExhausted: the guest's memory is within one growth step of its limit, so its
// failure is best explained by the limit.
func memoryExhausted(inst *instance, limit int) bool {
	mem := inst.mod.Memory()
	if mem == nil {
		return false
	}
	return int(mem.Size())+16*pageSize > limit
}

// maxErrorMessage bounds the message of a guest's error reply passed to clients.
const maxErrorMessage = 1024

type guestError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// errorReply normalises a guest's error reply to {"code","message"}.
func errorReply(status int32, reply []byte, set bool) []byte {
	var ge guestError
	if set && json.Unmarshal(reply, &ge) == nil && validCode(ge.Code) {
		if len(ge.Message) > maxErrorMessage {
			ge.Message = strings.ToValidUTF8(ge.Message[:maxErrorMessage], "")
		}
		out, _ := json.Marshal(ge)
		return out
	}
	code := "guest_error"
	msg := "the page handler failed without a valid error reply"
	if status != wasmabi.StatusError {
		code = fmt.Sprintf("guest_status_%d", status)
		msg = fmt.Sprintf("the page handler returned status %d", status)
	}
	out, _ := json.Marshal(guestError{Code: code, Message: msg})
	return out
}

func validCode(c string) bool {
	if c == "" || len(c) > wasmabi.MaxErrorCodeBytes {
		return false
	}
	for _, r := range c {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// Close stops the module: calls waiting for an instance fail, running calls finish (or
// are stopped at their deadline), and the runtime with every instance is closed.
func (m *Module) Close(ctx context.Context) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	close(m.done)
	idle := m.idle
	m.idle = nil
	m.mu.Unlock()
	for _, inst := range idle {
		_ = inst.mod.Close(ctx)
	}
	// The watchdog keeps enforcing deadlines until the last running call is done.
	defer func() {
		close(m.stopWatch)
		<-m.watchDone
	}()
	// Wait for running calls to give back their slots.
	for range cap(m.free) {
		select {
		case <-m.free:
		case <-ctx.Done():
			_ = m.runtime.Close(context.Background())
			return fmt.Errorf("wasm module %s: calls still running at close: %w", m.cfg.Name, ctx.Err())
		}
	}
	return m.runtime.Close(ctx)
}
