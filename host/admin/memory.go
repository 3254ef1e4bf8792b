package admin

import (
	"bytes"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
)

// Memory is the process's memory as `gnrhost memory` shows it. After a collection
// (Collected), HeapInuseBytes is close to what the host holds live: the figure a leak
// across swaps grows, and the one to compare over time (the resident set also follows
// wazero's compiled code, mapped outside the Go heap, and when the OS takes pages back).
type Memory struct {
	Collected      bool   `json:"collected"`
	HeapInuseBytes uint64 `json:"heap_inuse_bytes"`
	HeapAllocBytes uint64 `json:"heap_alloc_bytes"`
	// SysBytes is all the Go runtime obtained from the OS (heap, stacks, its own).
	SysBytes     uint64 `json:"sys_bytes"`
	StackBytes   uint64 `json:"stack_inuse_bytes"`
	Goroutines   int    `json:"goroutines"`
	NumGC        uint32 `json:"num_gc"`
	ResidentSize uint64 `json:"rss_bytes,omitempty"`
}

// ReadMemory reads this process's memory; collect runs a full collection first and
// returns freed memory to the OS, which stops the world briefly (the admin channel, and
// tests that compare memory over swaps).
func ReadMemory(collect bool) Memory {
	if collect {
		runtime.GC()
		debug.FreeOSMemory()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return Memory{
		Collected:      collect,
		HeapInuseBytes: ms.HeapInuse,
		HeapAllocBytes: ms.HeapAlloc,
		SysBytes:       ms.Sys,
		StackBytes:     ms.StackInuse,
		Goroutines:     runtime.NumGoroutine(),
		NumGC:          ms.NumGC,
		ResidentSize:   residentSize(),
	}
}

// residentSize is VmRSS from /proc/self/status, or 0 where there is none.
func residentSize() uint64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	_, rest, ok := bytes.Cut(status, []byte("VmRSS:"))
	if !ok {
		return 0
	}
	line, _, _ := bytes.Cut(rest, []byte("\n"))
	kb, err := strconv.ParseUint(string(bytes.TrimSuffix(bytes.TrimSpace(line), []byte(" kB"))), 10, 64)
	if err != nil {
		return 0
	}
	return kb << 10
}
