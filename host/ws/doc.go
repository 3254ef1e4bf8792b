// Package ws is the host's WebSocket endpoint (gobwas/ws): a page connects with its page
// id and its connection cookie, receives the page's pushes in order, and can make RPCs
// that reach the same handler entry as HTTP RPCs.
//
// Design points (docs/websocket.md has the protocol):
//   - An idle connection costs one goroutine blocked in a read and no buffers: the
//     upgrade is zero-copy and frames are read without a bufio.Reader. Pushes are not
//     copied per connection either: they stay in the page's push buffer (package pages)
//     and a connection only remembers the last sequence number it sent.
//   - A push is written by the goroutine that made it, without waiting for the socket:
//     all the connection's pending frames in one write, so a fan-out costs one syscall
//     per socket and no goroutine. What a full socket does not take goes to a goroutine
//     that exists only while the connection has data waiting, so a slow client blocks
//     nobody else; a client that falls more than its queue limits behind is closed with
//     CloseSlowConsumer.
//   - Frames are checked as RFC 6455 requires (masking, reserved bits, control frame
//     sizes, fragmentation, UTF-8, close codes) and answered with the right close code.
package ws
