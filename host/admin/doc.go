// Package admin is the host's control channel: a small JSON-over-HTTP API (status, swap,
// rollback, reload, memory) and the admin page, served on a unix socket only its owner can open
// (mode 0600 in a 0700 directory) and, optionally, on a TCP listener that requires a
// bearer token. It is never mounted on the public port without those credentials; the
// client half is what `gnrhost swap`, `rollback` and `status` use.
package admin
