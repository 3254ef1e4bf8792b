//go:build unix

package registrypyro

import (
	"syscall"
	"time"
)

// processCPU is the user+system time the whole process has used so far: the client's own
// cost per call (every goroutine, GC and runtime threads included), which is steadier on a
// loaded machine than wall time, dominated there by the daemon and by scheduling.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
