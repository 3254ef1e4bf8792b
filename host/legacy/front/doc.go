// Package front serves HTTP/1.x connections for the legacy routes without net/http, and
// hands every other connection to a net/http server.
//
// Why: the legacy proxy shares the machine's cores with the Python workers it fronts,
// and of the ~100 µs of CPU a proxied request cost under bench/legacy.sh, ~40 µs were
// net/http's server and chi around the handler: parsing the request into fresh maps,
// the response writer's buffering, the background-read goroutine it starts per request
// to notice a gone client, and the router. A goroutine per connection that reads request
// heads from a pooled buffer, asks a Router whether it may serve the request itself and
// writes the answer straight to the connection costs about what nginx does.
//
// What the front serves is deliberately narrow: HTTP/1.0 and 1.1 requests in origin
// form with no body, a Content-Length body or a chunked one, no Upgrade, no announced
// trailers, no Expect other than 100-continue, a head that fits the read buffer (4 KB),
// for a path the Router takes. Anything else (another route, a WebSocket, an unusual or
// malformed head, a TLS connection) is handed over, with the bytes already read, to the
// net/http server through the Listener, which owns that connection from then on. So
// net/http keeps answering everything it answered before, and the front only has to get
// the common case right. Request smuggling attempts (Content-Length with
// Transfer-Encoding, differing Content-Lengths) get a 400 from the front itself.
//
// # Notes
//
//   - A connection never comes back from net/http: once a request was handed over, the
//     rest of the connection's requests are net/http's.
//   - A gone client is noticed without a reader goroutine: the request's context probes
//     the socket (a non-blocking MSG_PEEK) when asked for Err, which the legacy proxy's
//     watchdog does every tick. Done is closed by that probe, or when the connection is
//     closed by a forced shutdown, not by itself.
//   - A slowloris client that sends a head larger than the buffer is handed over and
//     gets the net/http server's ReadHeaderTimeout again: at most twice the timeout.
package front
