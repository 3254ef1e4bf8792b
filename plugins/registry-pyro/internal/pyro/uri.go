package pyro

import (
	"fmt"
	"net"
	"strings"
)

// URI is a PYRO:object@host:port address (Pyro4's URI for a direct object, the only kind
// gnrdaemon hands out; PYRONAME needs a name server we do not use).
type URI struct {
	Object string
	Addr   string // host:port
}

// ParseURI parses "PYRO:objectid@host:port".
func ParseURI(s string) (URI, error) {
	rest, ok := strings.CutPrefix(s, "PYRO:")
	if !ok {
		return URI{}, fmt.Errorf("pyro: uri %q: only PYRO:object@host:port is supported", s)
	}
	// Object ids cannot contain '@' (Pyro4's URI regex takes the first one).
	obj, loc, ok := strings.Cut(rest, "@")
	if !ok || obj == "" || loc == "" {
		return URI{}, fmt.Errorf("pyro: uri %q: want PYRO:object@host:port", s)
	}
	if strings.HasPrefix(loc, "./u:") {
		return URI{}, fmt.Errorf("pyro: uri %q: unix sockets are not supported", s)
	}
	if _, _, err := net.SplitHostPort(loc); err != nil {
		return URI{}, fmt.Errorf("pyro: uri %q: %w", s, err)
	}
	return URI{Object: obj, Addr: loc}, nil
}

func (u URI) String() string { return "PYRO:" + u.Object + "@" + u.Addr }
