// Package legacy proxies HTTP to the legacy WSGI site whose address the legacy plugin
// reports: streaming request and response bodies both ways, keep-alive to the upstream,
// X-Forwarded-For/-Proto/-Host, and a quick 503 naming the plugin while the site is down.
package legacy
