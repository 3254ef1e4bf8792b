package balancer

import (
	"os/exec"
	"syscall"
)

// setChildAttrs makes the kernel kill the host process when the balancer dies, even by
// SIGKILL, so no host process outlives it holding a port.
func setChildAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
