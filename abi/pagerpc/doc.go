// Package pagerpc carries the abi.PageHandler contract across a process boundary with
// hashicorp/go-plugin over gRPC (wire form in abi/pagepb), so a page handler can be a
// native Go program instead of a WebAssembly module, behind the same page contract.
//
// # Host side
//
// The host builds a plugin.Client with Handshake, VersionedPlugins(nil) and
// ClientDialOptions, dispenses PluginName and type-asserts the result to
// abi.PageHandler (host/pages.PluginHandlerFactory does all of this).
//
// # Plugin side
//
// A plugin's main is one line: pagerpc.Serve(pagerpc.NewHandler(features, entries)).
// Entries are ordinary Go functions taking a *Page, which gives the page store (the
// call's snapshot with the call's writes laid over it), the user's and global registers
// (callbacks into the host), pushes, publishes and subscriptions (recorded and returned
// with the result), and reply helpers. A plugin may also implement abi.PageHandler
// itself and use NewPage.
//
// # Callbacks
//
// The registers must stay in the host, so during a call the plugin calls back: the host
// serves a PageHost service through go-plugin's GRPCBroker, one broker stream per plugin
// connection, offered on the first call. Each CallRequest carries that stream's broker
// id and a call id; the plugin dials the broker id once and tags every callback with the
// call id, and the host routes it to that call's abi.PageHost. A callback for an unknown
// call id, or for a call that has returned, fails (errors.Is(err, abi.ErrUnavailable)
// is false: it is a plugin bug, not an outage); the host waits for callbacks in flight
// before a call returns, so a call's PageHost is never used after it.
//
// # Errors
//
// The abi sentinels (ErrNotFound, ErrInvalid, ErrTooLarge, ErrNotPermitted,
// ErrUnavailable) travel as gRPC codes and come back wrapping the same sentinel. A
// plugin that cannot be reached (process gone, connection closed) is ErrUnavailable; a
// call whose ctx ended wraps ctx.Err(). A panic in a handler fails that call only.
//
// # Trust
//
// Page enforces the page ABI's limits so an author learns of a mistake where it is made,
// but the host must not rely on it: host/pages checks every result again.
package pagerpc
