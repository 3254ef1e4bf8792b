package legacy

import (
	"os"
	"syscall"
)

// dialUnix connects to the unix socket at path. It makes the socket itself rather than
// through net.DialUnix, which asks the kernel for both addresses (getsockname and
// getpeername) on every connection: with gunicorn's sync workers every request connects,
// and syscalls are most of what a proxied request costs. A unix connect does not wait:
// a full backlog fails at once (EAGAIN), a dead site with ECONNREFUSED or ENOENT.
func dialUnix(path string) (*os.File, error) {
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	if err := syscall.Connect(fd, &syscall.SockaddrUnix{Name: path}); err != nil {
		_ = syscall.Close(fd)
		return nil, &os.PathError{Op: "connect", Path: path, Err: err}
	}
	// A non-blocking descriptor: os.File reads and writes it through the runtime's
	// poller, as net does.
	return os.NewFile(uintptr(fd), path), nil
}
