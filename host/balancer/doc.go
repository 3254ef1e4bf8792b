// Package balancer runs several gnrhost host processes on one machine behind one public
// port (phase 7, `gnrhost serve --local-balancer`): the development and test stand-in for
// nginx or HAProxy hashing on the route cookie in production.
//
// The pieces, one per file:
//
//   - ring.go: rendezvous hashing of the route cookie (the user) over process numbers;
//     the X-Gnr-Ring header that lets a process mint guests that hash back to itself.
//   - router.go: which process a request belongs to: the page id's "|pNN" suffix, else
//     the route cookie, else any ready process.
//   - supervisor.go: starts the host processes on listeners the balancer opened (so a
//     restarted process keeps its address), watches their exit and /readyz, restarts them
//     with backoff, stops them with SIGTERM.
//   - proxy.go: the public handler: route, then proxy or answer 503 at once when the
//     process is not ready. Requests go through the host's lean HTTP/1.1 proxy
//     (host/legacy.Proxy, one per process), WebSocket upgrades through its
//     httputil.ReverseProxy fallback.
//   - admin.go: the balancer's admin channel: status, scale, swap, rollback, reload.
//   - swap.go: swaps through the balancer: every process in turn, undone on a refusal.
//   - balancer.go: Options and Run, which ties them together.
package balancer
