//go:build !linux

package legacy

import (
	"net"
)

// dialUnix connects to the unix socket at path.
func dialUnix(path string) (*net.UnixConn, error) {
	return net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
}
