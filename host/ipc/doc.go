// Package ipc carries what one host process must tell the others behind a balancer
// (phase 7): dbevents, notices for a user's or every open page, and the global register's
// store. The "local" backend needs nothing from this package (everything stays in the one
// process); the "nats" backend, selected by a plugin set's `ipc: {backend: nats, url: ...}`,
// is built here on NATS core subjects and a JetStream key-value bucket.
//
// The pieces:
//
//   - Bus is one process's NATS connection: it publishes and subscribes the subjects of a
//     site (Subjects), counts what it sends, receives and fails in the host's metrics, and
//     drains on Close.
//   - Registry wraps a process's own abi.Registry: NotifyDbEvents also publishes the
//     events, and the global item's store lives in the site's key-value bucket
//     (GlobalStore), so every process reads the same values. Everything else (users,
//     connections, pages, datachanges, locks) stays in the process's registry.
//   - PageSnapshots keeps the snapshots of `persist: true` pages in a second bucket, with
//     revision-checked writes so one process at a time owns a page.
//   - StartEmbedded runs a NATS server with JetStream inside the calling process, on a
//     random loopback port, for a balancer to hand to its children and for a single
//     process that has no external server.
//
// # Notes
//
// NATS core delivery is at most once: a dbevent or notice published while a process is
// disconnected does not reach that process's pages (their local delivery is unaffected).
// docs/ipc.md describes the subjects, the message formats and the failure behaviour.
package ipc
