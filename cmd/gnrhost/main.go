package main

import (
	"fmt"
	"io"
	"os"
)

// Exit codes: 0 success, 1 the command failed (an invalid set, a plugin that would not
// start), 2 the command line itself was wrong.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

const usage = `gnrhost: a host that moves a Genropy-style WSGI site, phase by phase, to resident
pages with WebSocket push. Each phase is a plugin set in a YAML file.

Usage:
  gnrhost serve --plugins FILE [--listen ADDR] [--reload] [--log-format text|json] [--log-level LEVEL]
  gnrhost serve --plugins FILE --local-balancer [--max-processes N]
                          phase 7: a balancer in front of N host processes on this machine
  gnrhost swap FILE       swap the running host to another plugin set (admin channel)
  gnrhost rollback        swap it back to the previous set
  gnrhost status          the running set, its plugins, pages, connections, swap history
                          (against a balancer: its host processes)
  gnrhost memory [--gc]   the host process's memory (after a full collection with --gc)
  gnrhost scale N         run N host processes behind the local balancer (admin channel)
  gnrhost validate FILE
  gnrhost version
  gnrhost plugin NAME     (internal: run by gnrhost itself, not for people)

Run 'gnrhost COMMAND --help' for a command's flags. Docs: docs/ in the source tree.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "serve":
		return cmdServe(args[1:], stdout, stderr)
	case "swap":
		return cmdSwap(args[1:], stdout, stderr)
	case "rollback":
		return cmdRollback(args[1:], stdout, stderr)
	case "status":
		return cmdStatus(args[1:], stdout, stderr)
	case "memory":
		return cmdMemory(args[1:], stdout, stderr)
	case "scale":
		return cmdScale(args[1:], stdout, stderr)
	case "validate":
		return cmdValidate(args[1:], stdout, stderr)
	case "version":
		return cmdVersion(args[1:], stdout, stderr)
	case "plugin":
		return cmdPlugin(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "gnrhost: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
}
