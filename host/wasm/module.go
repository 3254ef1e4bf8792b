package wasm

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/gnrhost/gnrhost/abi/wasmabi"
)

// Defaults for a module's limits.
const (
	DefaultTimeout   = time.Second
	DefaultInstances = 4
	pageSize         = 64 << 10
	// MaxModuleBytes bounds a module file; Go modules are ~2 MB, so 64 MB is generous.
	MaxModuleBytes = 64 << 20
)

// Config describes one module to load.
type Config struct {
	// Path of the .wasm file.
	Path string
	// Name used in messages and logs (defaults to the file name).
	Name string
	// MemoryLimit in bytes (rounded up to 64 KiB pages); default 64 MiB.
	MemoryLimit int
	// Timeout of one call; default 1 s.
	Timeout time.Duration
	// Instances is the pool's size: at most this many calls run at once.
	Instances int
	Logger    *slog.Logger
}

// Module is a compiled, validated page module with its instance pool.
type Module struct {
	cfg      Config
	runtime  wazero.Runtime
	compiled wazero.CompiledModule
	features uint64
	logger   *slog.Logger

	// free holds the numbers of the instance slots not in use: at most cfg.Instances
	// calls run at once, each in its own slot.
	free chan int
	mu   sync.Mutex
	idle []*instance
	// closed is set once; calls then fail with KindClosed.
	closed bool
	done   chan struct{}

	// The watchdog (watchdog.go): active[slot] is the instance running a call in slot.
	tick      time.Duration
	active    []atomic.Pointer[instance]
	running   atomic.Int64
	started   atomic.Uint64
	sleeping  atomic.Bool
	wake      chan struct{}
	stopWatch chan struct{}
	watchDone chan struct{}
}

type instance struct {
	mod                     api.Module
	load, rpc, event, close api.Function
	// stack holds an entry's result (entries take no parameters), reused by every call.
	stack [1]uint64
	watch watch
	state callState
	ctx   *callCtx
}

// Load reads, compiles and checks a module against the ABI, and instantiates its first
// instance (so a module that cannot start fails here, when its set loads).
func (e *Engine) Load(ctx context.Context, cfg Config) (*Module, error) {
	if cfg.Name == "" {
		cfg.Name = filepath.Base(cfg.Path)
	}
	if cfg.MemoryLimit <= 0 {
		cfg.MemoryLimit = wasmabi.DefaultMemoryLimit
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Instances <= 0 {
		cfg.Instances = DefaultInstances
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	code, err := readModule(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("wasm module %s: %w", cfg.Name, err)
	}
	pages := uint32((cfg.MemoryLimit + pageSize - 1) / pageSize)
	rcfg := wazero.NewRuntimeConfig().
		WithCompilationCache(e.cache).
		WithMemoryLimitPages(pages).
		WithCloseOnContextDone(true)
	r := wazero.NewRuntimeWithConfig(ctx, rcfg)
	m := &Module{cfg: cfg, runtime: r, logger: cfg.Logger.With("module", cfg.Name),
		free: make(chan int, cfg.Instances), done: make(chan struct{}),
		tick: watchTick(cfg.Timeout), active: make([]atomic.Pointer[instance], cfg.Instances),
		wake: make(chan struct{}, 1), stopWatch: make(chan struct{}), watchDone: make(chan struct{})}
	for i := range cfg.Instances {
		m.free <- i
	}
	fail := func(err error) (*Module, error) {
		_ = r.Close(ctx)
		return nil, fmt.Errorf("wasm module %s: %w", cfg.Name, err)
	}
	m.compiled, err = r.CompileModule(ctx, code)
	if err != nil {
		return fail(fmt.Errorf("not a valid WebAssembly module: %w", err))
	}
	if err := instantiateHostModule(ctx, r); err != nil {
		return fail(err)
	}
	usesWASI, err := checkImports(m.compiled)
	if err != nil {
		return fail(err)
	}
	if usesWASI {
		wasi, err := wasi_snapshot_preview1.NewBuilder(r).Compile(ctx)
		if err != nil {
			return fail(err)
		}
		if err := checkWASIImports(m.compiled, wasi); err != nil {
			return fail(err)
		}
		if _, err := r.InstantiateModule(ctx, wasi, wazero.NewModuleConfig()); err != nil {
			return fail(err)
		}
	}
	if err := checkExports(m.compiled); err != nil {
		return fail(err)
	}
	inst, err := m.instantiate(ctx)
	if err != nil {
		return fail(fmt.Errorf("cannot instantiate: %w", err))
	}
	if m.features, err = m.negotiate(ctx, inst); err != nil {
		_ = inst.mod.Close(ctx)
		return fail(err)
	}
	m.idle = append(m.idle, inst)
	go m.watchdog()
	return m, nil
}

func readModule(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > MaxModuleBytes {
		return nil, fmt.Errorf("%s is %d bytes, over the %d-byte limit", path, st.Size(), MaxModuleBytes)
	}
	return os.ReadFile(path)
}

// Features returns the features negotiated with the module.
func (m *Module) Features() uint64 { return m.features }

// SharedEvents reports whether the module's event entry does the same for every page
// (feature SHARED_EVENTS), so one call can serve all the pages a dbevent reaches.
func (m *Module) SharedEvents() bool { return m.features&wasmabi.FeatureSharedEvents != 0 }

// Name is the module's name in messages.
func (m *Module) Name() string { return m.cfg.Name }

func sig(params, results []api.ValueType) string {
	f := func(ts []api.ValueType) string {
		names := make([]string, len(ts))
		for i, t := range ts {
			names[i] = api.ValueTypeName(t)
		}
		return strings.Join(names, ", ")
	}
	return "(" + f(params) + ") -> (" + f(results) + ")"
}

func checkImports(c wazero.CompiledModule) (usesWASI bool, err error) {
	host := hostSignatures()
	var problems []string
	for _, def := range c.ImportedFunctions() {
		mod, name, _ := def.Import()
		switch mod {
		case wasmabi.ImportModule:
			f, ok := host[name]
			if !ok {
				problems = append(problems, fmt.Sprintf("imports %s.%s, which the host does not provide", mod, name))
				continue
			}
			if !slices.Equal(f.params, def.ParamTypes()) || !slices.Equal(f.results, def.ResultTypes()) {
				problems = append(problems, fmt.Sprintf("imports %s.%s as %s; the host provides %s", mod, name,
					sig(def.ParamTypes(), def.ResultTypes()), sig(f.params, f.results)))
			}
		case wasmabi.WASIModule:
			usesWASI = true
		default:
			problems = append(problems, fmt.Sprintf("imports %s.%s: only the %q module (and %q for runtimes that need it) is provided", mod, name, wasmabi.ImportModule, wasmabi.WASIModule))
		}
	}
	for _, def := range c.ImportedMemories() {
		mod, name, _ := def.Import()
		problems = append(problems, fmt.Sprintf("imports memory %s.%s: a module must define and export its own memory", mod, name))
	}
	if len(problems) > 0 {
		return false, errors.New(strings.Join(problems, "; "))
	}
	return usesWASI, nil
}

func checkWASIImports(c, wasi wazero.CompiledModule) error {
	provided := wasi.ExportedFunctions()
	for _, def := range c.ImportedFunctions() {
		mod, name, _ := def.Import()
		if _, ok := provided[name]; mod == wasmabi.WASIModule && !ok {
			return fmt.Errorf("imports %s.%s, which the host does not provide", mod, name)
		}
	}
	return nil
}

func checkExports(c wazero.CompiledModule) error {
	exports := c.ExportedFunctions()
	var versions []int
	for name := range exports {
		if rest, ok := strings.CutPrefix(name, wasmabi.VersionExportPrefix); ok {
			if v, err := strconv.Atoi(rest); err == nil {
				versions = append(versions, v)
			}
		}
	}
	speaks := fmt.Sprintf("this host speaks gnr ABI v%d (export %s)", wasmabi.Version, wasmabi.VersionExport)
	switch {
	case len(versions) == 0:
		return fmt.Errorf("exports no %sN function, so it is not a gnrhost page module; %s", wasmabi.VersionExportPrefix, speaks)
	case len(versions) > 1:
		return fmt.Errorf("exports several ABI versions %v; export exactly one", versions)
	case !slices.Contains(wasmabi.SupportedVersions, versions[0]):
		return fmt.Errorf("speaks gnr ABI v%d; %s", versions[0], speaks)
	}
	if _, ok := c.ExportedMemories()[wasmabi.ExportMemory]; !ok {
		return fmt.Errorf("does not export its memory as %q", wasmabi.ExportMemory)
	}
	entry := []api.ValueType{i32}
	want := []struct {
		name            string
		required        bool
		params, results []api.ValueType
	}{
		{wasmabi.ExportLoad, true, nil, entry},
		{wasmabi.ExportRPC, true, nil, entry},
		{wasmabi.ExportEvent, false, nil, entry},
		{wasmabi.ExportClose, false, nil, entry},
		{wasmabi.ExportFeatures, false, []api.ValueType{i64}, []api.ValueType{i64}},
	}
	var problems []string
	for _, w := range want {
		def, ok := exports[w.name]
		if !ok {
			if w.required {
				problems = append(problems, fmt.Sprintf("missing export %s %s", w.name, sig(w.params, w.results)))
			}
			continue
		}
		if !slices.Equal(def.ParamTypes(), w.params) || !slices.Equal(def.ResultTypes(), w.results) {
			problems = append(problems, fmt.Sprintf("export %s is %s; the ABI needs %s", w.name,
				sig(def.ParamTypes(), def.ResultTypes()), sig(w.params, w.results)))
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

func (m *Module) instantiate(ctx context.Context) (*instance, error) {
	out := &logWriter{logger: m.logger, stream: "stdout"}
	errw := &logWriter{logger: m.logger, stream: "stderr"}
	mc := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions(wasmabi.ExportInitialize).
		WithStdout(out).WithStderr(errw).
		WithRandSource(rand.Reader).
		WithSysWalltime().WithSysNanotime()
	ictx, cancel := context.WithTimeout(ctx, max(m.cfg.Timeout, 10*time.Second))
	defer cancel()
	mod, err := m.runtime.InstantiateModule(ictx, m.compiled, mc)
	if err != nil {
		return nil, err
	}
	inst := &instance{
		mod:   mod,
		load:  mod.ExportedFunction(wasmabi.ExportLoad),
		rpc:   mod.ExportedFunction(wasmabi.ExportRPC),
		event: mod.ExportedFunction(wasmabi.ExportEvent),
		close: mod.ExportedFunction(wasmabi.ExportClose),
		watch: newWatch(),
	}
	inst.ctx = &callCtx{inst: inst}
	return inst, nil
}

func (m *Module) negotiate(ctx context.Context, inst *instance) (uint64, error) {
	enabled := wasmabi.FeaturePush
	if inst.event != nil {
		enabled |= wasmabi.FeatureEvents
	}
	if inst.close != nil {
		enabled |= wasmabi.FeatureClose
	}
	if f := inst.mod.ExportedFunction(wasmabi.ExportFeatures); f != nil {
		cctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
		defer cancel()
		res, err := f.Call(cctx, wasmabi.HostFeatures)
		if err != nil {
			return 0, fmt.Errorf("%s failed: %w", wasmabi.ExportFeatures, err)
		}
		enabled = res[0] & wasmabi.HostFeatures
	}
	if enabled&wasmabi.FeatureEvents != 0 && inst.event == nil {
		return 0, fmt.Errorf("enables feature EVENTS but does not export %s", wasmabi.ExportEvent)
	}
	if enabled&wasmabi.FeatureClose != 0 && inst.close == nil {
		return 0, fmt.Errorf("enables feature CLOSE but does not export %s", wasmabi.ExportClose)
	}
	if enabled&wasmabi.FeatureSharedEvents != 0 && enabled&wasmabi.FeatureEvents == 0 {
		return 0, errors.New("enables feature SHARED_EVENTS without EVENTS")
	}
	return enabled, nil
}

// logWriter sends a guest's stdout/stderr (WASI) to the host log, a line at a time,
// bounded per line.
type logWriter struct {
	logger *slog.Logger
	stream string
	buf    []byte
}

func (w *logWriter) Write(p []byte) (int, error) {
	for _, c := range p {
		if c == '\n' || len(w.buf) >= wasmabi.MaxLogBytes {
			w.logger.Info(strings.ToValidUTF8(string(w.buf), "\uFFFD"), "stream", w.stream)
			w.buf = w.buf[:0]
			if c == '\n' {
				continue
			}
		}
		w.buf = append(w.buf, c)
	}
	return len(p), nil
}
