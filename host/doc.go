// Package host is gnrhost's data plane: one process serving HTTP (chi) on one port for
// the plugin set it runs. It starts the set's plugins through pluginmgr, serves the
// health, readiness and metrics endpoints, hands blocking work to a bounded executor pool,
// and shuts down gracefully: stop accepting, drain in-flight requests, stop plugins.
//
// The host never imports a concrete plugin: cmd/gnrhost hands it a Catalog of factories.
package host
