package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/gnrhost/gnrhost/host"
	"github.com/gnrhost/gnrhost/host/admin"
	"github.com/gnrhost/gnrhost/host/pluginset"
	"github.com/gnrhost/gnrhost/host/session"
)

func cmdServe(args []string, stdout, stderr io.Writer) int {
	const synopsis = "serve --plugins FILE [--listen ADDR] [--reload] [--local-balancer [--max-processes N]] [--log-format text|json] [--log-level LEVEL]"
	fs := newFlagSet("serve", synopsis, stdout, stderr)
	plugins := fs.String("plugins", "", "plugin-set `FILE` to run (required)")
	listen := fs.String("listen", "", "public `ADDR` (host:port); overrides the set's listen, default "+pluginset.DefaultListen)
	logFormat := fs.String("log-format", "text", "log format: text or json")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to `FILE` until the host stops (for performance work)")
	reload := fs.Bool("reload", false, "development: watch the set file and its WASM modules, and swap when they change")
	processNum := fs.Int("process", 0, "phase 7: this host's `NUMBER` (1-99) behind a balancer; page and connection ids end in |pNN")
	localBalancer := fs.Bool("local-balancer", false, "phase 7: run a balancer on the public port in front of --max-processes host processes on loopback")
	maxProcesses := fs.Int("max-processes", 0, "with --local-balancer: how many host processes, 1-99 (default: the set's processes when above 1, else 2)")
	restartBackoff := fs.Duration("restart-backoff", 100*time.Millisecond, "with --local-balancer: the first wait before restarting a host process that died (doubling up to 5s)")
	// Internal: a local balancer opens each process's listener and hands it over.
	listenFD := fs.Int("listen-fd", 0, "")
	hideFlags(fs, synopsis, "listen-fd")
	if code, exit := parseFlags(fs, args, stdout); exit {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "gnrhost serve: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if *plugins == "" {
		if *localBalancer {
			fmt.Fprintln(stderr, "gnrhost serve: --local-balancer needs --plugins FILE (the set every host process runs)")
			return exitUsage
		}
		fmt.Fprintln(stderr, "gnrhost serve: --plugins FILE is required")
		return exitUsage
	}
	if msg := checkBalancerFlags(*localBalancer, *maxProcesses, *processNum, *listenFD, fs); msg != "" {
		fmt.Fprintf(stderr, "gnrhost serve: %s\n", msg)
		return exitUsage
	}
	process, err := session.ParseProcess(*processNum)
	if err != nil {
		fmt.Fprintf(stderr, "gnrhost serve: --process: %v\n", err)
		return exitUsage
	}
	logger, err := newLogger(stderr, *logFormat, *logLevel)
	if err != nil {
		fmt.Fprintf(stderr, "gnrhost serve: %v\n", err)
		return exitUsage
	}
	cat := catalog()
	// Stamped before reading, so an edit made while the host starts is still seen as a
	// change by --reload.
	loadedStamp := fileStamp(*plugins)
	set, err := pluginset.Load(*plugins, cat.PluginSetCatalog())
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	if *listen != "" {
		if _, _, err := net.SplitHostPort(*listen); err != nil {
			fmt.Fprintf(stderr, "gnrhost serve: --listen %q: expected host:port or :port\n", *listen)
			return exitUsage
		}
		set.Listen = *listen
	}
	useSharedSecret(set)

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "gnrhost serve: --cpuprofile: %v\n", err)
			return exitUsage
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "gnrhost serve: --cpuprofile: %v\n", err)
			return exitUsage
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if *localBalancer {
		return serveBalancer(ctx, set, balancerFlags{processes: *maxProcesses, logFormat: *logFormat, logLevel: *logLevel, reload: *reload, restartBackoff: *restartBackoff}, logger)
	}
	if process == 0 && set.Processes > 1 {
		logger.Warn("the set asks for several host processes; this is one. Run with --local-balancer, or start each with --process N behind a balancer", "processes", set.Processes)
	}
	if *listenFD != 0 {
		ctx = stopWithBalancer(ctx, logger)
		asBalancedProcess(set, logger)
	}
	rt, err := host.NewRuntime(ctx, host.RuntimeOptions{Set: set, Catalog: cat, Logger: logger, Process: process})
	if err != nil {
		logger.Error("cannot start", "err", err)
		return exitFail
	}
	ln, err := publicListener(set.Listen, *listenFD)
	if err != nil {
		logger.Error("cannot listen", "addr", set.Listen, "err", err)
		_ = rt.Close(context.Background())
		return exitFail
	}
	adminDone, err := startAdmin(ctx, rt, set, ln.Addr().String(), logger)
	if err != nil {
		logger.Error("cannot open the admin channel", "err", err)
		ln.Close()
		_ = rt.Close(context.Background())
		return exitFail
	}
	hupDone := reloadOnHUP(ctx, rt, logger)
	watchDone := make(chan struct{})
	if *reload {
		go func() {
			defer close(watchDone)
			watchAndReload(ctx, rt, set, loadedStamp, logger)
		}()
	} else {
		close(watchDone)
	}
	serveErr := rt.Serve(ctx, ln)
	stop()
	<-adminDone
	<-hupDone
	<-watchDone
	if serveErr != nil {
		logger.Error("serve", "err", serveErr)
		return exitFail
	}
	return exitOK
}

// startAdmin opens the admin socket (always) and the token-guarded TCP admin listener
// (when the set asks for one); both stop with ctx. The default socket is named after the
// port actually listened on (--listen :0 picks one).
func startAdmin(ctx context.Context, rt *host.Runtime, set *pluginset.Set, listening string, logger *slog.Logger) (<-chan struct{}, error) {
	socket := set.Admin.Socket
	if socket == "" {
		socket = admin.DefaultSocket(listening)
	}
	uln, err := admin.ListenSocket(socket)
	if err != nil {
		return nil, err
	}
	done := make(chan struct{})
	var tln net.Listener
	var token string
	if set.Admin.Listen != "" {
		token = os.Getenv(set.Admin.TokenEnv)
		if len(token) < 16 {
			uln.Close()
			return nil, fmt.Errorf("admin.token_env: variable %s must hold a token of at least 16 characters", set.Admin.TokenEnv)
		}
		if tln, err = net.Listen("tcp", set.Admin.Listen); err != nil {
			uln.Close()
			return nil, fmt.Errorf("admin.listen %s: %w", set.Admin.Listen, err)
		}
	}
	alog := logger.With("component", "admin")
	go func() {
		defer close(done)
		errs := make(chan error, 2)
		go func() { errs <- admin.Serve(ctx, uln, admin.Handler(rt, "", alog), alog) }()
		n := 1
		if tln != nil {
			n++
			go func() { errs <- admin.Serve(ctx, tln, admin.Handler(rt, token, alog), alog) }()
		}
		for range n {
			if err := <-errs; err != nil {
				alog.Error("admin listener stopped", "err", err)
			}
		}
	}()
	args := []any{"socket", socket}
	if tln != nil {
		args = append(args, "tcp", tln.Addr().String())
	}
	logger.Info("admin channel open", args...)
	return done, nil
}

// reloadOnHUP re-reads the running set's file on SIGHUP (a swap to the same file).
func reloadOnHUP(ctx context.Context, rt *host.Runtime, logger *slog.Logger) <-chan struct{} {
	done := make(chan struct{})
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer close(done)
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				logger.Info("SIGHUP: reloading the plugin set")
				if _, err := rt.Reload(ctx); err != nil {
					logger.Error("reload refused; the running set keeps serving", "err", err)
				}
			}
		}
	}()
	return done
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: expected debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: expected text or json", format)
}
