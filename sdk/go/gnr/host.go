package gnr

import "strconv"

// HostError is a negative result of a host function (ABI section 4).
type HostError int32

// Host function error codes.
const (
	ErrNotFound     HostError = -1 // the key is unset
	ErrInvalid      HostError = -2 // bad argument: key, JSON, pointer, UTF-8
	ErrTooLarge     HostError = -3 // over a limit
	ErrNotPermitted HostError = -4 // not allowed here (feature not enabled, ...)
	ErrUnavailable  HostError = -5 // the host could not do it now
)

func (e HostError) Error() string {
	switch e {
	case ErrNotFound:
		return "gnr: not found"
	case ErrInvalid:
		return "gnr: invalid argument"
	case ErrTooLarge:
		return "gnr: too large"
	case ErrNotPermitted:
		return "gnr: not permitted"
	case ErrUnavailable:
		return "gnr: unavailable"
	}
	return "gnr: host error " + strconv.Itoa(int(e))
}

// rc turns an rc result (0 or a negative code) into an error.
func rc(n int32) error {
	if n < 0 {
		return HostError(n)
	}
	return nil
}

// initialBuf is the first buffer size tried by readBuf; most values fit.
const initialBuf = 1024

// readBuf calls a (buf, cap) -> n host function. When the data does not fit, the host
// writes nothing and returns its length; readBuf then calls again with a buffer of that
// size (again if the data grew in between, which the host does not do within a call).
func readBuf(call func(buf *byte, cap uint32) int32) ([]byte, error) {
	buf := make([]byte, initialBuf)
	for {
		n := call(&buf[0], uint32(len(buf)))
		if n < 0 {
			return nil, HostError(n)
		}
		if int(n) <= len(buf) {
			return buf[:n], nil
		}
		buf = make([]byte, n)
	}
}
