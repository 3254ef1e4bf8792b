package pages

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/abi/pagerpc"
	"github.com/gnrhost/gnrhost/abi/wasmabi"
	"github.com/gnrhost/gnrhost/host/pluginmgr"
	"github.com/gnrhost/gnrhost/host/pluginset"
	"github.com/gnrhost/gnrhost/host/wasm"
)

// PluginHandlerFactory is the factory of a route whose `plugin:` is an executable: a
// native page plugin (abi/pagerpc) started as a go-plugin child process. The child gets
// what registry children get (PDEATHSIG, the parent watchdog's environment, stderr into
// the host log through the log bridge, tagged by the logger the factory is given).
//
// The handler keeps the WASM handlers' contract: the route's timeout bounds every call
// (504), its instances bound concurrent calls (503 when none frees up in time), a dead
// plugin answers 503, and whatever the plugin returns is checked against the page ABI's
// limits (a violation is a 500, the call changes nothing). A crashed plugin is not
// restarted: its route answers 503 until the plugin set is loaded again.
func PluginHandlerFactory(exe string) HandlerFactory {
	return func(ctx context.Context, route pluginset.PageRoute, logger *slog.Logger) (Handler, error) {
		return startPlugin(ctx, exe, route, logger)
	}
}

// pluginHandler is a Handler backed by a page plugin process.
type pluginHandler struct {
	name     string // the route's `plugin:` value, as errors and logs name it
	client   *plugin.Client
	flush    func()
	page     abi.PageHandler
	features uint64
	timeout  time.Duration
	slots    chan struct{} // one per call allowed to run at once
	logger   *slog.Logger
	exitLog  sync.Once

	mu     sync.Mutex
	closed bool
	done   chan struct{} // closed by Close
}

var _ Handler = (*pluginHandler)(nil)

var (
	errPluginExited = errors.New("the page plugin process has exited")
	errPluginClosed = errors.New("page plugin closed")
)

// startPlugin starts exe, dispenses its page handler and negotiates features. It returns
// only when the plugin answered Features, so a plugin that starts but cannot serve fails
// the plugin set here rather than on its first page.
func startPlugin(ctx context.Context, exe string, route pluginset.PageRoute, logger *slog.Logger) (*pluginHandler, error) {
	started := time.Now()
	client, flush := pluginmgr.NewChildClient(pluginmgr.ChildCommand(exe, nil), pluginmgr.ChildSpec{
		Handshake:       pagerpc.Handshake,
		Plugins:         pagerpc.VersionedPlugins(nil),
		Logger:          logger,
		GRPCDialOptions: pagerpc.ClientDialOptions(),
		SyncStdio:       true,
	})
	fail := func(err error) (*pluginHandler, error) {
		client.Kill()
		flush()
		return nil, err
	}
	rpc, err := client.Client()
	if err != nil {
		return fail(fmt.Errorf("start page plugin %s: %w", exe, err))
	}
	raw, err := rpc.Dispense(pagerpc.PluginName)
	if err != nil {
		return fail(fmt.Errorf("dispense %s from page plugin %s: %w", pagerpc.PluginName, exe, err))
	}
	page, ok := raw.(abi.PageHandler)
	if !ok {
		return fail(fmt.Errorf("page plugin %s: dispensed %T, not a page handler", exe, raw))
	}
	fctx, cancel := context.WithTimeout(ctx, pluginmgr.StartTimeout)
	defer cancel()
	want, err := page.Features(fctx)
	if err != nil {
		return fail(fmt.Errorf("page plugin %s: features: %w", exe, err))
	}
	h := &pluginHandler{
		name:     route.Plugin,
		client:   client,
		flush:    flush,
		page:     page,
		features: want & wasmabi.HostFeatures,
		timeout:  cmp.Or(route.Timeout.D(), pluginset.DefaultPageTimeout),
		slots:    make(chan struct{}, max(route.Instances, 1)),
		logger:   logger,
		done:     make(chan struct{}),
	}
	pid := 0
	if rc := client.ReattachConfig(); rc != nil {
		pid = rc.Pid
	}
	logger.Info("page plugin started", "pid", pid, "features", h.features, "took", time.Since(started).Round(time.Microsecond))
	return h, nil
}

func (h *pluginHandler) Name() string { return h.name }

// Wants reports the optional entries the plugin negotiated, as wasm.Module does.
func (h *pluginHandler) Wants(e wasm.Entry) bool {
	switch e {
	case wasm.EntryEvent:
		return h.features&wasmabi.FeatureEvents != 0
	case wasm.EntryClose:
		return h.features&wasmabi.FeatureClose != 0
	}
	return true
}

func (h *pluginHandler) Call(ctx context.Context, call *wasm.Call) (*wasm.Result, error) {
	fail := func(kind wasm.ErrorKind, err error) (*wasm.Result, error) {
		return nil, &wasm.CallError{Kind: kind, Module: h.name, Entry: call.Entry, Err: err}
	}
	if h.isClosed() {
		return fail(wasm.KindClosed, errPluginClosed)
	}
	if h.client.Exited() {
		// Checked before anything else so a dead plugin costs a request nothing but 503.
		h.logExit()
		return fail(wasm.KindUnavailable, errPluginExited)
	}
	select {
	case h.slots <- struct{}{}:
		defer func() { <-h.slots }()
	case <-h.done:
		return fail(wasm.KindClosed, errPluginClosed)
	case <-ctx.Done():
		return fail(wasm.KindBusy, fmt.Errorf("no call slot freed up: %w", ctx.Err()))
	}
	if h.isClosed() {
		// Close began while this call waited for its slot.
		return fail(wasm.KindClosed, errPluginClosed)
	}
	pc, err := pageCall(call)
	if err != nil {
		return fail(wasm.KindTrap, err)
	}
	cctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	host := &pluginHost{host: call.Host}
	res, err := h.page.Call(cctx, pc, host)
	if err != nil {
		kind := h.classify(cctx, err)
		h.logger.Warn("page plugin call failed", "entry", call.Entry.String(), "kind", kind.String(), "err", err)
		return fail(kind, err)
	}
	if herr := host.failure(); herr != nil {
		// The registry failed under the plugin; whatever the plugin made of it, the call
		// cannot be trusted (as for WASM modules).
		return fail(wasm.KindUnavailable, herr)
	}
	out, err := checkResult(res, call.Host, h.features)
	if err != nil {
		h.logger.Warn("page plugin broke the page ABI; call failed", "entry", call.Entry.String(), "err", err)
		return fail(wasm.KindTrap, err)
	}
	return out, nil
}

// classify maps a failed plugin call to the kind its HTTP status comes from.
func (h *pluginHandler) classify(cctx context.Context, err error) wasm.ErrorKind {
	switch {
	case h.client.Exited():
		h.logExit()
		return wasm.KindUnavailable
	case cctx.Err() != nil, status.Code(err) == codes.DeadlineExceeded:
		// The plugin side can give up on the deadline (gRPC sends it along) a moment
		// before this side's timer fires: a busy machine makes that moment visible.
		return wasm.KindTimeout
	case errors.Is(err, abi.ErrUnavailable):
		return wasm.KindUnavailable
	}
	return wasm.KindTrap
}

// logExit says once, loudly, that the route is down for good: nothing restarts a page
// plugin, so every later call answers 503 until the set is loaded again.
func (h *pluginHandler) logExit() {
	h.exitLog.Do(func() {
		h.flush()
		h.logger.Error("page plugin process has exited; its route answers 503 until the plugin set is reloaded")
	})
}

func (h *pluginHandler) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

// Close refuses new calls, waits for running ones (until ctx ends) and ends the child:
// gracefully through go-plugin, then by kill.
func (h *pluginHandler) Close(ctx context.Context) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	close(h.done)
	h.mu.Unlock()
	var err error
wait:
	for range cap(h.slots) {
		select {
		case h.slots <- struct{}{}:
		case <-ctx.Done():
			err = fmt.Errorf("page plugin %s: calls still running at close: %w", h.name, ctx.Err())
			break wait
		}
	}
	h.client.Kill()
	h.flush()
	return err
}

// pageCall converts a call for the plugin: the page from the host's page info, and a
// snapshot of the page store.
func pageCall(call *wasm.Call) (abi.PageCall, error) {
	var info abi.PageInfo
	if err := json.Unmarshal(call.Host.PageInfo(), &info); err != nil {
		return abi.PageCall{}, fmt.Errorf("page info: %w", err)
	}
	keys := call.Host.StoreKeys()
	store := make(map[string]json.RawMessage, len(keys))
	for _, k := range keys {
		if v, ok := call.Host.StoreGet(k); ok {
			store[k] = v
		}
	}
	return abi.PageCall{Entry: entryNames[call.Entry], Method: call.Method, Input: call.Input, Page: info, Store: store}, nil
}

var entryNames = map[wasm.Entry]string{
	wasm.EntryLoad:  abi.PageEntryLoad,
	wasm.EntryRPC:   abi.PageEntryRPC,
	wasm.EntryEvent: abi.PageEntryEvent,
	wasm.EntryClose: abi.PageEntryClose,
}
