// Package metrics defines the host's Prometheus series (all named gnrhost_*) in one place,
// on a registry of their own so tests and several hosts in one process never collide.
package metrics
