package ws

// OpenSocket names the page and connection behind one open socket.
type OpenSocket struct {
	ConnectionID string
	PageID       string
}

// Open lists the open sockets: a page with a socket is in use even when its user does
// not click, and the host keeps its registry items alive on that account.
func (s *Server) Open() []OpenSocket {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]OpenSocket, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, OpenSocket{ConnectionID: c.id.ConnectionID, PageID: c.pageID})
	}
	return out
}
