// Package pluginmgr starts, watches and stops the plugins of a plugin set.
//
// A plugin runs in-process (a Go value built by its factory) or out-of-process (the host
// re-executes itself as `gnrhost plugin NAME`, spoken to over hashicorp/go-plugin and gRPC).
// Either way the rest of the host sees one stable abi.Registry that never changes identity:
// behind it the manager health-checks the plugin, restarts a crashed process with
// exponential backoff, and answers calls made while it is down at once with an error that
// wraps abi.ErrUnavailable and names the plugin (the HTTP layer turns that into a 503).
//
// Two things go-plugin leaves to its users are done here: restarting a crashed plugin
// (go-plugin #31) and never leaving a plugin process behind when the host dies, even by
// SIGKILL (go-plugin #210): children get PR_SET_PDEATHSIG, and also watch their parent.
package pluginmgr
