package main

import (
	"fmt"
	"io"
	"runtime/debug"

	"github.com/gnrhost/gnrhost/abi"
)

// version is set at link time (-ldflags "-X main.version=..."); otherwise it comes from
// the build info.
var version = ""

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		rev, dirty := "", ""
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "-dirty"
				}
			}
		}
		if rev != "" {
			if len(rev) > 12 {
				rev = rev[:12]
			}
			return "dev-" + rev + dirty
		}
		if bi.Main.Version != "" {
			return bi.Main.Version
		}
	}
	return "dev"
}

func cmdVersion(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("version", "version\n\nPrints the gnrhost version and the contract versions it speaks.", stdout, stderr)
	if code, exit := parseFlags(fs, args, stdout); exit {
		return code
	}
	fmt.Fprintf(stdout, "gnrhost %s\nregistry protocol %d\n", versionString(), abi.RegistryProtocolVersion)
	return exitOK
}
