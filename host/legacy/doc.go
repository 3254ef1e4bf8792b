// Package legacy proxies HTTP to the legacy WSGI site whose address the legacy plugin
// reports: streaming request and response bodies both ways, keep-alive to the upstream,
// X-Forwarded-For/-Proto/-Host, hop-by-hop header removal, a quick 503 naming the plugin
// while the site is down and a 504 when it is too slow.
//
// Under the host's Runtime the legacy routes' requests do not go through net/http's
// server at all: the connection-level front (package front) reads them and calls the
// proxy with a ResponseWriter of its own; GNRHOST_LEGACY_FRONT=off puts net/http back.
//
// Ordinary requests take a lean path (see Proxy): the proxy shares two CPU cores with the
// Python workers it fronts, so every microsecond it spends per request is throughput the
// site loses. Protocol upgrades and requests announcing trailers, which the site does
// not serve in practice, go through net/http/httputil's ReverseProxy.
package legacy
