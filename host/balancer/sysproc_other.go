//go:build !linux

package balancer

import "os/exec"

// setChildAttrs: without Pdeathsig, host processes notice the balancer is gone by
// watching their parent pid (EnvBalancerPID).
func setChildAttrs(cmd *exec.Cmd) {}
