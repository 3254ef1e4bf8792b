// Package registrytest is the conformance suite for abi.Registry backends.
//
// Every backend (registry-mem in process, the same over go-plugin/gRPC, registry-pyro
// talking to a real gnrdaemon) runs Run from its own tests, so "implements abi.Registry"
// means the same observable behaviour everywhere, not just the same method set:
//
//	func TestConformance(t *testing.T) {
//		registrytest.Run(t, func(t *testing.T) abi.Registry {
//			reg := mybackend.New(...)
//			t.Cleanup(func() { _ = reg.Close() })
//			return reg
//		}, registrytest.Options{})
//	}
//
// Each subtest gets a fresh registry from the factory. A backend whose semantics
// legitimately differ names the subtest in Options.Skip with the reason; the subtest then
// shows up as skipped with that reason instead of disappearing. Skip entries that name no
// subtest, or carry no reason, fail the run, so the list cannot rot silently.
//
// Where abi.Registry leaves a choice open, the suite pins it (and says so in the subtest):
//   - A page whose ConnectionID names a missing connection is refused with ErrNotFound.
//   - The global item cannot be added or dropped: ErrInvalid.
//   - Empty paths, empty table names, empty lock reasons and unknown RefreshKinds are
//     ErrInvalid; store values must be valid JSON (an empty value is not).
//   - NotifyDbEvents sends a notice for every table that has events, even one no page
//     subscribed to (PageIDs empty), and the origin page gets the datachange too when it
//     is subscribed (gnrdaemon does not exclude it).
//   - Sweep never removes a just-added user that has no connection yet.
//   - Calls with a cancelled context fail with an error matching context.Canceled.
//
// The Close subtest closes the registry itself, so a factory's cleanup must tolerate a
// second Close (for instance ignore an error matching abi.ErrUnavailable).
//
// BenchmarkGetItem is a helper, not a benchmark: call it from a backend's own Benchmark
// function to compare in-process and out-of-process costs of the hottest call.
package registrytest
