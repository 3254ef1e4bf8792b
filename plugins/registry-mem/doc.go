// Package registrymem is the in-memory implementation of abi.Registry: the site's
// global, user, connection and page registers live in this process, as gnrdaemon's
// SiteRegister does in its per-site child, but without a network hop per call.
//
// It is the default registry of a single host process (phases 1-6 of the migration) and
// the reference the conformance suite in abi/registrytest is checked against. Nothing
// survives a restart: pages re-register on their next request, as they would after a
// gnrdaemon restart without autorestore.
//
// Semantics the contract leaves open, as this backend settles them:
//   - A user item's User field is its ID (filled in when empty, refused when different),
//     so filters and cascades find a user's connections by Item.User.
//   - AddItem of a connection neither needs nor creates its user.
//   - Re-adding an item with non-nil Data starts it afresh: the store becomes Data and the
//     pending datachanges and path subscriptions are dropped; ChangeIdx keeps growing so a
//     client never sees an index twice. Without Data the store, datachanges, path and table
//     subscriptions are kept (new tables are appended).
//   - Sweep drops a user once it has no connection and either lost its last one in that
//     sweep or is itself older than the connection max age (so orphans do not leak, and a
//     user added just before its first connection is not swept in between).
//   - The global item cannot be dropped (ErrInvalid) and is not counted by Counters.
//   - Locks expire by wall-clock time, independently of Sweep.
//
// Everything that goes in or comes out is deep-copied, so callers may keep and mutate what
// they pass and what they get.
package registrymem
