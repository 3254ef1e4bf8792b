package ws

import "encoding/json"

// notifyFrame is a notice for a user's or every open page (POST /_gnr/notify, or another
// process over the nats backend). It is not numbered and not replayed on resume: a socket
// that is down when it is sent misses it.
type notifyFrame struct {
	Type      string          `json:"type"` // "notify"
	User      string          `json:"user,omitempty"`
	Broadcast bool            `json:"broadcast,omitempty"`
	Payload   json.RawMessage `json:"payload"`
}

// Notify writes a notify frame carrying payload (valid JSON) to every open socket of user,
// or to every open socket with broadcast, and returns how many sockets it queued it for.
// Each write runs on its own goroutine bounded by the write timeout, so a client that
// does not read delays nobody else.
func (s *Server) Notify(user string, broadcast bool, payload json.RawMessage) int {
	if !broadcast && user == "" {
		return 0
	}
	frame, err := json.Marshal(notifyFrame{Type: "notify", User: user, Broadcast: broadcast, Payload: payload})
	if err != nil {
		return 0 // payload is not JSON: the callers check it
	}
	s.mu.Lock()
	targets := make([]*conn, 0, 4)
	for c := range s.conns {
		if broadcast || c.id.User == user {
			targets = append(targets, c)
		}
	}
	s.mu.Unlock()
	n := 0
	for _, c := range targets {
		if s.goFlush(func() { _ = c.writeText(frame) }) {
			n++
		}
	}
	return n
}
