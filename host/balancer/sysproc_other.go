//go:build !linux

package balancer

import (
	"os/exec"
	"syscall"
)

// setChildAttrs gives each host process a process group of its own (a Ctrl-C reaches
// only the balancer). Without Pdeathsig, host processes notice the balancer is gone by
// watching their parent pid (EnvBalancerPID).
func setChildAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}
