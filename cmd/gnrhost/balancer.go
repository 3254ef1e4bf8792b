package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/gnrhost/gnrhost/host"
	"github.com/gnrhost/gnrhost/host/balancer"
	"github.com/gnrhost/gnrhost/host/ipc"
	"github.com/gnrhost/gnrhost/host/pluginset"
	"github.com/gnrhost/gnrhost/host/session"
)

// balancerFlags are the serve flags a local balancer passes on or uses.
type balancerFlags struct {
	processes           int // --max-processes; 0: the default
	logFormat, logLevel string
	reload              bool
	restartBackoff      time.Duration
}

// checkBalancerFlags returns a usage error for flag combinations that make no sense, or "".
func checkBalancerFlags(localBalancer bool, maxProcesses, process, listenFD int, fs *flag.FlagSet) string {
	maxSet := false
	fs.Visit(func(f *flag.Flag) { maxSet = maxSet || f.Name == "max-processes" })
	switch {
	case maxSet && !localBalancer:
		return "--max-processes needs --local-balancer"
	case maxSet && (maxProcesses < 1 || maxProcesses > balancer.MaxProcesses):
		return fmt.Sprintf("--max-processes %d out of range; expected 1 to %d", maxProcesses, balancer.MaxProcesses)
	case localBalancer && process != 0:
		return "--local-balancer numbers its host processes itself; drop --process"
	case localBalancer && listenFD != 0:
		return "--local-balancer and --listen-fd do not go together"
	case listenFD < 0:
		return "--listen-fd: expected a descriptor number"
	}
	return ""
}

// hideFlags makes fs's usage leave out flags that are for gnrhost's own use.
func hideFlags(fs *flag.FlagSet, synopsis string, hidden ...string) {
	fs.Usage = func() {
		shown := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
		shown.SetOutput(fs.Output())
		fs.VisitAll(func(f *flag.Flag) {
			if !slices.Contains(hidden, f.Name) {
				shown.Var(f.Value, f.Name, f.Usage)
			}
		})
		fmt.Fprintf(fs.Output(), "Usage: gnrhost %s\n\n", synopsis)
		shown.PrintDefaults()
	}
}

// useSharedSecret: a set naming no secret_env signs with session.EnvSecret when that
// variable is set (a local balancer sets it for its processes).
func useSharedSecret(set *pluginset.Set) {
	if set.Session.SecretEnv == "" && os.Getenv(session.EnvSecret) != "" {
		set.Session.SecretEnv = session.EnvSecret
	}
}

// sharedSecretEnv makes sure every host process signs cookies with one secret: the
// variable the set names (or session.EnvSecret), filled with a random secret when empty.
// Without it, a user moved to another process (scale, restart) would lose its identity.
func sharedSecretEnv(set *pluginset.Set, logger *slog.Logger) ([]string, error) {
	name := set.Session.SecretEnv
	if name == "" {
		name = session.EnvSecret
	}
	if os.Getenv(name) != "" {
		return nil, nil
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("make a session secret: %w", err)
	}
	logger.Info("generated a session secret shared by the host processes (cookies last as long as the balancer)", "variable", name)
	return []string{name + "=" + base64.RawURLEncoding.EncodeToString(secret)}, nil
}

// serveBalancer runs `serve --local-balancer`: the balancer on the public port, and the
// host processes behind it.
func serveBalancer(ctx context.Context, set *pluginset.Set, f balancerFlags, logger *slog.Logger) int {
	n := f.processes
	if n == 0 {
		n = 2
		if set.Processes > 1 {
			n = set.Processes
		}
	}
	if n > balancer.MaxProcesses {
		logger.Error("too many processes", "processes", n, "max", balancer.MaxProcesses)
		return exitUsage
	}
	exe, err := os.Executable()
	if err != nil {
		logger.Error("cannot find the gnrhost binary to run the host processes", "err", err)
		return exitFail
	}
	env, err := sharedSecretEnv(set, logger)
	if err != nil {
		logger.Error("cannot start", "err", err)
		return exitFail
	}
	ln, err := net.Listen("tcp", set.Listen)
	if err != nil {
		logger.Error("cannot listen", "addr", set.Listen, "err", err)
		return exitFail
	}
	// SIGHUP re-reads the set in every process (each swaps to the file again); without
	// this it would end the balancer.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	args := []string{"serve", "--log-format", "json", "--log-level", f.logLevel}
	if f.reload {
		args = append(args, "--reload")
	}
	err = balancer.Run(ctx, balancer.Options{
		Set:            set,
		Listener:       ln,
		Processes:      n,
		Executable:     exe,
		ServeArgs:      args,
		Env:            env,
		RestartInitial: f.restartBackoff,
		RestartMax:     max(f.restartBackoff, 5*time.Second),
		AdminSocket:    set.Admin.Socket,
		Relay:          hup,
		BeforeChildren: embeddedNATS(set, logger),
		// No component attribute: the "listening" line reads as a host's does (addr first).
		Logger: logger,
	})
	ln.Close()
	if err != nil {
		logger.Error("balancer", "err", err)
		return exitFail
	}
	return exitOK
}

// publicListener opens addr, or takes over the listener a local balancer passed as
// descriptor fd.
func publicListener(addr string, fd int) (net.Listener, error) {
	if fd == 0 {
		return net.Listen("tcp", addr)
	}
	f := os.NewFile(uintptr(fd), "balancer-listener")
	if f == nil {
		return nil, fmt.Errorf("--listen-fd %d: not an open descriptor", fd)
	}
	defer f.Close()
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("--listen-fd %d: %w", fd, err)
	}
	return ln, nil
}

// asBalancedProcess adapts a set for a host process behind a local balancer: its admin
// socket is the default one for its own port, where the balancer finds it to pass swaps
// on (the set's admin.socket is the balancer's), and a TCP admin listener is left to the
// balancer (one fixed port cannot serve them all).
func asBalancedProcess(set *pluginset.Set, logger *slog.Logger) {
	if set.Admin.Socket != "" || set.Admin.Listen != "" {
		logger.Info("admin.socket and admin.listen are the balancer's; this process has the default socket for its port")
		set.Admin.Socket, set.Admin.Listen = "", ""
	}
}

// balancerPoll is how often a host process checks its balancer is still there.
const balancerPoll = 200 * time.Millisecond

// stopWithBalancer returns a context that also ends when the balancer that started this
// process is gone (its pid is in balancer.EnvBalancerPID): Pdeathsig kills us at once
// in most cases; this covers the rest, and stops us gracefully.
func stopWithBalancer(ctx context.Context, logger *slog.Logger) context.Context {
	want, err := strconv.Atoi(os.Getenv(balancer.EnvBalancerPID))
	if err != nil {
		return ctx
	}
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		defer cancel()
		t := time.NewTicker(balancerPoll)
		defer t.Stop()
		for {
			if os.Getppid() != want {
				logger.Warn("the balancer that started this process is gone; stopping", "balancer_pid", want)
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return ctx
}

// embeddedNATS starts, for a set on the nats ipc backend that names no server (neither
// ipc.url nor GNRHOST_NATS_URL), one embedded NATS server in the balancer before its
// processes, and hands them its URL: they share it, and it outlives any of them, so a
// restarted process finds the global store and the persist pages' snapshots. Nil for
// other sets.
func embeddedNATS(set *pluginset.Set, logger *slog.Logger) func(context.Context) ([]string, func(), error) {
	if set.IPC == nil || set.IPC.Backend != host.IPCNATS {
		return nil
	}
	if url, source := ipc.ResolveURL(set.IPC.URL); url != "" {
		logger.Info("ipc: the host processes use the nats server named by " + source)
		return nil
	}
	return func(ctx context.Context) ([]string, func(), error) {
		url, stop, err := ipc.StartEmbedded(ctx, ipc.EmbeddedOptions{})
		if err != nil {
			return nil, nil, err
		}
		logger.Info("ipc: embedded nats server for the host processes", "url", url)
		return []string{ipc.EnvURL + "=" + url}, stop, nil
	}
}
