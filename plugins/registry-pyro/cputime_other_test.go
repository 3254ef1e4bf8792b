//go:build !unix

package registrypyro

import "time"

// processCPU is not measured here: the benchmark then reports no cpu-ns/op.
func processCPU() (time.Duration, bool) { return 0, false }
