// Package wasm runs page handlers compiled to WebAssembly with wazero, behind the gnrhost
// page ABI v1 (abi/wasm-abi.md).
//
// Each module is compiled once (through an on-disk compilation cache when configured),
// checked against the ABI when its plugin set loads (version export, required exports,
// imports the host provides), and run from a bounded pool of instances, one call at a time
// per instance. Every call has a deadline and the module a memory limit; an instance that
// trapped, timed out or ran out of memory is closed and never reused. Deadlines are kept
// by one watchdog goroutine per module rather than a timer per call (watchdog.go).
//
// A call has no side effects on the page until it succeeds: the runtime collects the
// call's page-store writes, pushes, publishes and subscription changes in its Result and
// the caller (package pages) applies them. User and global register writes go straight to
// the registry, as the ABI says.
package wasm
