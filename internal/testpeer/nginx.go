package testpeer

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// NginxBinary is Debian's nginx.
const NginxBinary = "/usr/sbin/nginx"

// Nginx is a running nginx serving one site configuration.
type Nginx struct {
	Addr string
	logs *syncBuffer
}

// Logs returns what nginx wrote to stderr.
func (n *Nginx) Logs() string { return n.logs.String() }

// StartNginx runs nginx (unprivileged, in the foreground, files in a temp dir) with site
// included in its http block. site must listen on "LISTEN", which is replaced by a free
// loopback address. nginx cannot take a port from the kernel itself, so the address is
// one just released; when another process takes it first, the start is tried again.
func StartNginx(t testing.TB, site string) *Nginx {
	t.Helper()
	if _, err := os.Stat(NginxBinary); err != nil {
		t.Fatalf("nginx is missing (%v): install it with apt-get install -y nginx (scripts/deps.sh does)", err)
	}
	var lastErr error
	for range 5 {
		n, err := startNginx(t, site)
		if err == nil {
			return n
		}
		lastErr = err
	}
	t.Fatalf("start nginx: %v", lastErr)
	return nil
}

func startNginx(t testing.TB, site string) (*Nginx, error) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	if err := os.WriteFile(filepath.Join(dir, "site.conf"), []byte(strings.ReplaceAll(site, "LISTEN", addr)), 0o600); err != nil {
		return nil, err
	}
	main := fmt.Sprintf(`worker_processes 1;
pid %[1]s/nginx.pid;
error_log stderr warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    include %[1]s/site.conf;
}
`, dir)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(main), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(NginxBinary, "-e", "stderr", "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-g", "daemon off;")
	logs := &syncBuffer{}
	cmd.Stderr = logWriter{logs}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %s: %w", NginxBinary, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			break
		}
		select {
		case err := <-exited:
			return nil, fmt.Errorf("nginx exited (%v): %s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			return nil, fmt.Errorf("nginx did not listen on %s within 10s: %s", addr, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("nginx logs:\n%s", logs.String())
		}
	})
	return &Nginx{Addr: addr, logs: logs}, nil
}
