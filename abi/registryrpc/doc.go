// Package registryrpc carries the abi.Registry contract across a process boundary with
// hashicorp/go-plugin over gRPC (wire form in abi/registrypb).
//
// The host builds a plugin.Client with Handshake and VersionedPlugins(nil), dispenses
// PluginName and type-asserts the result to abi.Registry; the plugin binary calls Serve
// with its backend. Both sides then program against abi.Registry only, so an in-process
// backend and an out-of-process one are interchangeable and pass the same conformance
// suite (abi/registrytest).
//
// What crosses the wire unchanged: every field of Item, Datachange, DbEvent and
// DbEventNotice; the zero time (as an unset timestamp); nil versus empty for Item.Data,
// GetStore/ReplaceStore stores and JSON values of datachanges and db events. What does
// not: time locations and monotonic readings (times come back in UTC, compare with
// Equal), and nil versus empty for slices and Datachange.Attributes (empty comes back
// nil).
//
// Errors: the abi sentinels travel as gRPC codes (ErrNotFound as NotFound, ErrInvalid as
// InvalidArgument, ErrLockHeld as FailedPrecondition, ErrUnavailable as Unavailable,
// anything else as Internal) with the backend's message, and come back wrapping the same
// sentinel, so errors.Is works on the host. A plugin that cannot be reached (process
// gone, connection closed) is ErrUnavailable; a call whose ctx ended wraps ctx.Err().
package registryrpc
