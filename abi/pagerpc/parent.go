package pagerpc

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"
)

// EnvParentPID names the host's pid in a plugin child's environment. It is the variable
// host/pluginmgr sets for every child (pluginmgr.EnvParentPID; a host test checks they
// agree): a page plugin is a separate binary that cannot import the host.
const EnvParentPID = "GNRHOST_PARENT_PID"

// parentPoll is how often a page plugin checks that its host is still there. The host
// starts children with PDEATHSIG, which covers the common case at once; this covers the
// rest (the forking thread gone, a race at fork), as host/pluginmgr's children do.
const parentPoll = 200 * time.Millisecond

// watchParent exits the process when the host that started it is gone. Without
// EnvParentPID (a plugin started by a test harness or by hand) it only stops with ctx.
func watchParent(ctx context.Context) {
	want, err := strconv.Atoi(os.Getenv(EnvParentPID))
	if err != nil {
		return
	}
	t := time.NewTicker(parentPoll)
	defer t.Stop()
	for {
		if os.Getppid() != want {
			// Plain text: the host reading our stderr is gone, this is for whoever is left.
			fmt.Fprintf(os.Stderr, "gnrhost page plugin: host process %d is gone; exiting\n", want)
			os.Exit(3)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
