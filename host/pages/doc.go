// Package pages serves page handlers over HTTP: it creates pages (GET on a route), runs
// their RPCs (POST /_gnr/rpc) and closes them (POST /_gnr/close), in one of two
// lifecycles:
//
//   - ephemeral: every request rebuilds the page from the registry (its item and store),
//     runs the handler and saves the store back, as the WSGI site does (phases 3-4);
//   - resident: the page object lives in this host between requests, with an idle TTL,
//     a cap per connection and cleanup when its connection goes (phase 5).
//
// A call changes the page only if it succeeds: the runtime hands back the call's store
// writes, pushes, publishes and subscription changes and this package applies them.
// Publishes become dbevents through the registry's NotifyDbEvents; every subscribed page
// this host can run gets its event entry, on the delivery workers (one page's events in
// order). A module whose event entry is the same for every page (SHARED_EVENTS) runs it
// once per dbevent for all the resident pages of its route (events.go).
//
// A route's handler is a WASM module (host/wasm) or a native page plugin: a factory from
// the host's catalog, or an executable run as a go-plugin child process (plugin.go,
// abi/pagerpc) whose results are checked against the same ABI limits as a module's.
package pages
