package testpeer

import (
	"bufio"
	"context"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gnrhost/gnrhost/host/ipc"
)

// EmbeddedNATS starts the NATS server (nats-server/v2, JetStream on) that a balancer
// embeds, on a random loopback port, and returns its client URL. It stops at cleanup.
func EmbeddedNATS(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	url, stop, err := ipc.StartEmbedded(ctx, ipc.EmbeddedOptions{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatalf("embedded nats: %v", err)
	}
	t.Cleanup(stop)
	return url
}

// NATSServer runs Debian's nats-server binary with JetStream on a free loopback port and
// returns its client URL once it logs that it is ready; it is stopped at cleanup. The
// test fails, saying why, when the binary is not installed (scripts/deps.sh installs it:
// apt-get install -y nats-server): a skip would hide a missing install step in CI.
func NATSServer(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		bin = "/usr/sbin/nats-server" // Debian's package puts it outside a user's PATH
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatal("nats-server binary not installed: apt-get install -y nats-server (scripts/deps.sh installs it)")
		}
	}
	// A free port picked by the kernel: nats-server -p 0 would not tell us which it took.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	cmd := exec.Command(bin, "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-js", "-sd", t.TempDir(), "-n", "gnrhost-test")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nats-server: %v", err)
	}
	ready := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		readySeen := false
		for sc.Scan() {
			line := sc.Text()
			logs.WriteLine(line)
			if !readySeen && strings.Contains(line, "Server is ready") {
				readySeen = true
				close(ready)
			}
		}
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("nats-server output:\n%s", logs.String())
		}
	})
	select {
	case <-ready:
	case <-exited:
		t.Fatalf("nats-server exited before it was ready:\n%s", logs.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("nats-server not ready after 20 s:\n%s", logs.String())
	}
	return "nats://127.0.0.1:" + strconv.Itoa(port)
}
