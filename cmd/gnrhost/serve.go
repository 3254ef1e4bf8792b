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

	"github.com/gnrhost/gnrhost/host"
	"github.com/gnrhost/gnrhost/host/pluginset"
)

func cmdServe(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("serve", "serve --plugins FILE [--listen ADDR] [--log-format text|json] [--log-level LEVEL]", stdout, stderr)
	plugins := fs.String("plugins", "", "plugin-set `FILE` to run (required)")
	listen := fs.String("listen", "", "public `ADDR` (host:port); overrides the set's listen, default "+pluginset.DefaultListen)
	logFormat := fs.String("log-format", "text", "log format: text or json")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to `FILE` until the host stops (for performance work)")
	if code, exit := parseFlags(fs, args, stdout); exit {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "gnrhost serve: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if *plugins == "" {
		fmt.Fprintln(stderr, "gnrhost serve: --plugins FILE is required")
		return exitUsage
	}
	logger, err := newLogger(stderr, *logFormat, *logLevel)
	if err != nil {
		fmt.Fprintf(stderr, "gnrhost serve: %v\n", err)
		return exitUsage
	}
	cat := catalog()
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
	h, err := host.New(ctx, host.Options{Set: set, Catalog: cat, Logger: logger})
	if err != nil {
		logger.Error("cannot start", "err", err)
		return exitFail
	}
	ln, err := net.Listen("tcp", set.Listen)
	if err != nil {
		logger.Error("cannot listen", "addr", set.Listen, "err", err)
		_ = h.Close(context.Background())
		return exitFail
	}
	if err := h.Serve(ctx, ln); err != nil {
		logger.Error("serve", "err", err)
		return exitFail
	}
	return exitOK
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
