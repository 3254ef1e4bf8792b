package ws

import "encoding/json"

// datachangesFrame carries a page's pending registry datachanges: what a legacy client's
// /_ping poll would collect (dbevents, values the legacy site set for the page). The
// host takes them on its keepalive round and sends them to the page's sockets.
type datachangesFrame struct {
	Type        string            `json:"type"` // "datachanges"
	Datachanges []json.RawMessage `json:"datachanges"`
}

// maxDatachangesFrameBytes bounds one datachanges frame; more changes go in more frames,
// in order, so a long backlog never makes a message a client refuses.
const maxDatachangesFrameBytes = 256 << 10

// SendDatachanges writes changes (each a JSON object) to every open socket of page, in
// frames of at most maxDatachangesFrameBytes (a single larger change gets a frame of its
// own), and returns how many sockets they were queued for. Like notify frames they are
// not numbered or replayed: a page without an open socket gets them in its next RPC
// answer instead, because the caller only takes them for pages with a socket.
func (s *Server) SendDatachanges(pageID string, changes []json.RawMessage) int {
	if len(changes) == 0 {
		return 0
	}
	var frames [][]byte
	for start := 0; start < len(changes); {
		end, size := start, 0
		for end < len(changes) && (end == start || size+len(changes[end]) <= maxDatachangesFrameBytes) {
			size += len(changes[end]) + 1
			end++
		}
		frame, err := json.Marshal(datachangesFrame{Type: "datachanges", Datachanges: changes[start:end]})
		if err != nil {
			return 0 // a change that is not JSON: the caller encodes them
		}
		frames = append(frames, frame)
		start = end
	}
	s.mu.Lock()
	var targets []*conn
	for c := range s.conns {
		if c.pageID == pageID {
			targets = append(targets, c)
		}
	}
	s.mu.Unlock()
	n := 0
	for _, c := range targets {
		if s.goFlush(func() {
			for _, f := range frames {
				if c.writeText(f) != nil {
					return
				}
			}
		}) {
			n++
		}
	}
	return n
}
