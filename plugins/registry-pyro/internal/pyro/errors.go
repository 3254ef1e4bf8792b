package pyro

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrHMACMismatch: the daemon and this client do not share the HMAC key. The daemon
	// answers a badly signed CONNECT with CONNECTFAIL signed with its own key, so the
	// client sees the mismatch on that reply (as Pyro4's Python client does).
	ErrHMACMismatch = errors.New("hmac mismatch: check the key")
	// ErrProtocol: the peer sent something that is not valid Pyro4 4.82 protocol.
	ErrProtocol = errors.New("pyro protocol error")
	// ErrConnectionBroken: the connection failed mid-call and was closed; the call may or
	// may not have run on the daemon.
	ErrConnectionBroken = errors.New("pyro connection broken")
	// ErrUnavailable: the daemon cannot be reached (dial failed or refused).
	ErrUnavailable = errors.New("pyro daemon unavailable")
	// ErrPoolClosed: the pool was closed.
	ErrPoolClosed = errors.New("pyro pool closed")
)

// ConnectFailedError is a CONNECTFAIL reply: the daemon refused the handshake.
type ConnectFailedError struct {
	Reason string
}

func (e *ConnectFailedError) Error() string {
	return "pyro: connection rejected by daemon: " + e.Reason
}

// RemoteError is a Python exception raised by the remote method (a RESULT with the
// exception flag). Type is the exception's class name, qualified by its module unless it
// is a builtin ("AssertionError", "Pyro4.errors.DaemonError").
type RemoteError struct {
	Module    string
	Name      string
	Args      []any
	Traceback string // the daemon's formatted traceback (_pyroTraceback)
}

// Type is the Python type name, module-qualified except for builtins.
func (e *RemoteError) Type() string {
	if e.Module == "" || e.Module == "builtins" || e.Module == "exceptions" || e.Module == "__builtin__" {
		return e.Name
	}
	return e.Module + "." + e.Name
}

// Message is what str(exception) gives in Python for the common cases.
func (e *RemoteError) Message() string {
	switch len(e.Args) {
	case 0:
		return ""
	case 1:
		if s, ok := e.Args[0].(string); ok {
			return s
		}
		return fmt.Sprint(e.Args[0])
	}
	parts := make([]string, len(e.Args))
	for i, a := range e.Args {
		parts[i] = fmt.Sprintf("%#v", a)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func (e *RemoteError) Error() string {
	if m := e.Message(); m != "" {
		return "pyro: remote " + e.Type() + ": " + m
	}
	return "pyro: remote " + e.Type()
}

// remoteErrorFrom turns a decoded exception object into a RemoteError.
func remoteErrorFrom(v any) error {
	obj, ok := v.(*Object)
	if !ok {
		return fmt.Errorf("pyro: %w: exception result is %T, not an exception object", ErrProtocol, v)
	}
	e := &RemoteError{Module: obj.Class.Module, Name: obj.Class.Name, Args: obj.Args}
	if state, ok := obj.State.(map[any]any); ok {
		switch tb := state["_pyroTraceback"].(type) {
		case []any:
			var b strings.Builder
			for _, line := range tb {
				if s, ok := line.(string); ok {
					b.WriteString(s)
				}
			}
			e.Traceback = b.String()
		case string:
			e.Traceback = tb
		}
	}
	return e
}
