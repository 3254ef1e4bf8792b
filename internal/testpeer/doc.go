// Package testpeer starts the real things tests talk to: the gnrhost binary built from
// this checkout (and, as later features need them, gunicorn, a Pyro4 daemon, NATS,
// Chromium). Every test starts its peers through here, the same way, and every peer is
// stopped by t.Cleanup.
package testpeer
