package main

import (
	"fmt"
	"io"

	"github.com/gnrhost/gnrhost/host/pluginset"
)

func cmdValidate(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("validate", "validate FILE\n\nChecks a plugin set without running it: exit 0 when valid, 1 with every problem\n(FILE:LINE:COLUMN: key: what was expected) when not.", stdout, stderr)
	if code, exit := parseFlags(fs, args, stdout); exit {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "gnrhost validate: expected exactly one FILE")
		return exitUsage
	}
	set, err := pluginset.Load(fs.Arg(0), catalog().PluginSetCatalog())
	if err != nil {
		fmt.Fprintln(stderr, err)
		return exitFail
	}
	fmt.Fprintf(stdout, "%s: valid plugin set %q (registry %s, %s; %d page routes; listen %s)\n",
		fs.Arg(0), set.Name, set.Registry.Plugin, set.Registry.Mode, len(set.Pages), set.Listen)
	return exitOK
}
