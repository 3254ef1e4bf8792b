package main

import (
	"fmt"
	"io"

	"github.com/gnrhost/gnrhost/host/pluginmgr"
)

func cmdPlugin(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("plugin", "plugin NAME\n\nInternal: gnrhost runs itself this way to serve a built-in plugin out-of-process\n(`mode: process` in a plugin set), over hashicorp/go-plugin and gRPC.\nIt is not meant to be run by people.", stdout, stderr)
	if code, exit := parseFlags(fs, args, stdout); exit {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "gnrhost plugin: expected exactly one plugin NAME")
		return exitUsage
	}
	if err := pluginmgr.ServeChild(builtinRegistries(), fs.Arg(0)); err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	return exitOK
}
