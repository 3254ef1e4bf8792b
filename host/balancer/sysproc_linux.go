package balancer

import (
	"os/exec"
	"syscall"
)

// setChildAttrs makes the kernel kill the host process when the balancer dies, even by
// SIGKILL, so no host process outlives it holding a port. Each process gets a process
// group of its own: a Ctrl-C in the terminal reaches only the balancer, which drains
// first and then stops the processes, instead of every process stopping at once (and
// the balancer restarting them meanwhile).
func setChildAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}
