package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/gnrhost/gnrhost/host/admin"
	"github.com/gnrhost/gnrhost/host/pluginset"
	"github.com/gnrhost/gnrhost/host/session"
)

// adminFlags are the flags every admin command shares: where the host's admin channel is.
type adminFlags struct {
	socket, url, tokenEnv, listen string
}

func (a *adminFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&a.socket, "admin", "", "the host's admin unix `SOCKET` (default: the one serve opens for --listen's port)")
	fs.StringVar(&a.listen, "listen", "", "the host's public `ADDR`, to find its default admin socket (default "+pluginset.DefaultListen+")")
	fs.StringVar(&a.url, "admin-url", "", "the host's TCP admin listener, http://`HOST:PORT` (instead of the socket)")
	fs.StringVar(&a.tokenEnv, "token-env", "GNRHOST_ADMIN_TOKEN", "environment `VARIABLE` holding the TCP admin listener's token")
}

func (a *adminFlags) client() (*admin.Client, error) {
	if a.url != "" {
		token := os.Getenv(a.tokenEnv)
		if token == "" {
			return nil, fmt.Errorf("--admin-url needs the admin token in $%s", a.tokenEnv)
		}
		return admin.NewClient(a.url, token), nil
	}
	socket := a.socket
	if socket == "" {
		listen := a.listen
		if listen == "" {
			listen = pluginset.DefaultListen
		}
		socket = admin.DefaultSocket(listen)
	}
	return admin.NewClient(socket, ""), nil
}

func cmdSwap(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("swap", "swap [--admin SOCKET | --listen ADDR | --admin-url URL] FILE", stdout, stderr)
	var af adminFlags
	af.register(fs)
	jsonOut := fs.Bool("json", false, "print the swap record as JSON")
	if code, exit := parseFlags(fs, args, stdout); exit {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "gnrhost swap: want exactly one plugin-set FILE")
		return exitUsage
	}
	file, err := filepath.Abs(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stderr, "gnrhost swap: %v\n", err)
		return exitUsage
	}
	// Check the file here first: the same errors, with positions, before bothering the host.
	if _, err := pluginset.Load(file, catalog().PluginSetCatalog()); err != nil {
		fmt.Fprintln(stderr, err)
		fmt.Fprintln(stderr, "gnrhost swap: refused; the running set keeps serving")
		return exitFail
	}
	c, err := af.client()
	if err != nil {
		fmt.Fprintf(stderr, "gnrhost swap: %v\n", err)
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(context.Background(), admin.DefaultTimeout)
	defer cancel()
	rec, err := c.Swap(ctx, file)
	return report("swap", rec, err, *jsonOut, stdout, stderr)
}

func cmdRollback(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("rollback", "rollback [--admin SOCKET | --listen ADDR | --admin-url URL]", stdout, stderr)
	var af adminFlags
	af.register(fs)
	jsonOut := fs.Bool("json", false, "print the swap record as JSON")
	if code, exit := parseFlags(fs, args, stdout); exit {
		return code
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "gnrhost rollback: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	c, err := af.client()
	if err != nil {
		fmt.Fprintf(stderr, "gnrhost rollback: %v\n", err)
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(context.Background(), admin.DefaultTimeout)
	defer cancel()
	rec, err := c.Rollback(ctx)
	return report("rollback", rec, err, *jsonOut, stdout, stderr)
}

func report(op string, rec admin.SwapRecord, err error, jsonOut bool, stdout, stderr io.Writer) int {
	var refused *admin.RefusedError
	if errors.As(err, &refused) {
		fmt.Fprintf(stderr, "gnrhost %s: refused: %s\nthe running set keeps serving\n", op, refused.Reason)
		return exitFail
	}
	if err != nil {
		fmt.Fprintf(stderr, "gnrhost %s: %v\n", op, err)
		return exitFail
	}
	if jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rec)
		return exitOK
	}
	fmt.Fprintf(stdout, "%s: %s -> %s in %.0f ms\n", op, rec.From, rec.To, rec.Millis)
	for _, s := range rec.Steps {
		fmt.Fprintf(stdout, "  - %s\n", s)
	}
	return exitOK
}

func cmdStatus(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("status", "status [--admin SOCKET | --listen ADDR | --admin-url URL] [--json]", stdout, stderr)
	var af adminFlags
	af.register(fs)
	jsonOut := fs.Bool("json", false, "print the status as JSON")
	if code, exit := parseFlags(fs, args, stdout); exit {
		return code
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "gnrhost status: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	c, err := af.client()
	if err != nil {
		fmt.Fprintf(stderr, "gnrhost status: %v\n", err)
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(context.Background(), admin.DefaultTimeout)
	defer cancel()
	st, err := c.Status(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "gnrhost status: %v\n", err)
		return exitFail
	}
	if *jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(st)
		return exitOK
	}
	printStatus(stdout, st)
	return exitOK
}

func printStatus(w io.Writer, st admin.Status) {
	fmt.Fprintf(w, "set:         %s (%s) since %s\n", st.Set.Name, st.Set.File, st.Set.Since.Format("2006-01-02 15:04:05"))
	if st.Processes != nil {
		printProcesses(w, st.Processes)
		return
	}
	if st.Previous != nil {
		fmt.Fprintf(w, "previous:    %s (%s)\n", st.Previous.Name, st.Previous.File)
	}
	fmt.Fprintf(w, "pages:       %d in the registry, %d resident here\n", st.Pages, st.ResidentPages)
	fmt.Fprintf(w, "connections: %d   users: %d   websockets: %d\n", st.Connections, st.Users, st.WebSockets)
	if st.RegistryError != "" {
		fmt.Fprintf(w, "registry:    %s\n", st.RegistryError)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nSLOT\tPLUGIN\tMODE\tSTATE\tPID\tRESTARTS\tLAST ERROR")
	for _, p := range st.Plugins {
		pid := "-"
		if p.PID > 0 {
			pid = fmt.Sprint(p.PID)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", p.Slot, p.Plugin, p.Mode, p.State, pid, p.Restarts, p.LastError)
	}
	tw.Flush()
	if len(st.Swaps) > 0 {
		fmt.Fprintln(w, "\nswaps:")
		for _, s := range st.Swaps {
			line := fmt.Sprintf("  %s %-13s %s -> %s: %s (%.0f ms)", s.Started.Format("15:04:05"), s.Kind, s.From, s.To, s.Result, s.Millis)
			if s.Error != "" {
				line += ": " + strings.ReplaceAll(s.Error, "\n", "; ")
			}
			fmt.Fprintln(w, line)
		}
	}
}

// printProcesses shows a local balancer's host processes.
func printProcesses(w io.Writer, procs []admin.ProcessStatus) {
	fmt.Fprintf(w, "balancer:    %d host processes (gnrhost status --admin SOCKET of one shows its pages)\n", len(procs))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nPROCESS\tPID\tADDRESS\tSTATE\tIN RING\tRESTARTS\tLAST ERROR")
	for _, p := range procs {
		pid := "-"
		if p.PID > 0 {
			pid = fmt.Sprint(p.PID)
		}
		fmt.Fprintf(tw, "p%02d\t%s\t%s\t%s\t%v\t%d\t%s\n", p.Number, pid, p.Addr, p.State, p.InRing, p.Restarts, p.LastError)
	}
	tw.Flush()
}

func cmdMemory(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("memory", "memory [--admin SOCKET | --listen ADDR | --admin-url URL] [--gc] [--json]", stdout, stderr)
	var af adminFlags
	af.register(fs)
	collect := fs.Bool("gc", false, "run a full collection first, so that the heap in use is what the host holds live")
	jsonOut := fs.Bool("json", false, "print the figures as JSON")
	if code, exit := parseFlags(fs, args, stdout); exit {
		return code
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(stderr, "gnrhost memory: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	c, err := af.client()
	if err != nil {
		fmt.Fprintf(stderr, "gnrhost memory: %v\n", err)
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(context.Background(), admin.DefaultTimeout)
	defer cancel()
	m, err := c.Memory(ctx, *collect)
	if err != nil {
		fmt.Fprintf(stderr, "gnrhost memory: %v\n", err)
		return exitFail
	}
	if *jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(m)
		return exitOK
	}
	mib := func(v uint64) string { return fmt.Sprintf("%.1f MiB", float64(v)/(1<<20)) }
	after := ""
	if m.Collected {
		after = " (after a full collection)"
	}
	fmt.Fprintf(stdout, "heap in use:  %s%s\nheap objects: %s\nfrom the OS:  %s (stacks %s)\nresident:     %s\ngoroutines:   %d\n",
		mib(m.HeapInuseBytes), after, mib(m.HeapAllocBytes), mib(m.SysBytes), mib(m.StackBytes), mib(m.ResidentSize), m.Goroutines)
	return exitOK
}

func cmdScale(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("scale", "scale [--admin SOCKET | --listen ADDR] [--json] N", stdout, stderr)
	var af adminFlags
	af.register(fs)
	jsonOut := fs.Bool("json", false, "print the scale record as JSON")
	if code, exit := parseFlags(fs, args, stdout); exit {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "gnrhost scale: want exactly one number of host processes N")
		return exitUsage
	}
	n, err := strconv.Atoi(fs.Arg(0))
	if err != nil || n < 1 || n > session.MaxProcess {
		fmt.Fprintf(stderr, "gnrhost scale: %q: expected a number of processes from 1 to %d\n", fs.Arg(0), session.MaxProcess)
		return exitUsage
	}
	c, err := af.client()
	if err != nil {
		fmt.Fprintf(stderr, "gnrhost scale: %v\n", err)
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(context.Background(), admin.DefaultTimeout)
	defer cancel()
	rec, err := c.Scale(ctx, n)
	var refused *admin.RefusedError
	switch {
	case errors.As(err, &refused):
		fmt.Fprintf(stderr, "gnrhost scale: refused: %s\n", refused.Reason)
		return exitFail
	case err != nil && strings.Contains(err.Error(), "404"):
		fmt.Fprintf(stderr, "gnrhost scale: %v\n(only a balancer scales: gnrhost serve --local-balancer)\n", err)
		return exitFail
	case err != nil:
		fmt.Fprintf(stderr, "gnrhost scale: %v\n", err)
		return exitFail
	}
	if *jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rec)
		return exitOK
	}
	fmt.Fprintf(stdout, "scale: %d -> %d processes in %.0f ms\n", rec.From, rec.To, rec.Millis)
	for _, s := range rec.Steps {
		fmt.Fprintf(stdout, "  - %s\n", s)
	}
	return exitOK
}
