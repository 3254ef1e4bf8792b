package testpeer

import (
	"bufio"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// DebianPython is the interpreter with Debian's python3-* packages (python3-pyro4); the
// python3 first on PATH may be another build without them.
const DebianPython = "/usr/bin/python3"

// Gnrdaemon is a running testdata/gnrdaemon/gnrdaemon.py: a Pyro4 4.82 daemon shaped like
// Genropy's gnrdaemon.
type Gnrdaemon struct {
	URI  string // PYRO:GnrDaemon@127.0.0.1:PORT
	Port int
	Addr string // 127.0.0.1:PORT
	Key  string // its HMAC key
	Cmd  *exec.Cmd

	logs   *syncBuffer
	exited chan struct{}
}

// RequirePyro4 fails t (never skips) when Debian's python3-pyro4 is not importable.
func RequirePyro4(t testing.TB) {
	t.Helper()
	out, err := exec.Command(DebianPython, "-c", "import Pyro4; print(Pyro4.__version__)").CombinedOutput()
	if err != nil {
		t.Fatalf("python3-pyro4 is missing (%v: %s): install it with apt-get install -y python3-pyro4 "+
			"(scripts/deps.sh / CI install it); these tests need the real Pyro4 library", err, strings.TrimSpace(string(out)))
	}
}

// StartGnrdaemon runs the test gnrdaemon on 127.0.0.1:port (0: any free port) with HMAC
// key key and waits (up to 20 s) for its ready line. It is killed at cleanup.
func StartGnrdaemon(t testing.TB, key string, port int) *Gnrdaemon {
	t.Helper()
	RequirePyro4(t)
	script := filepath.Join(ModuleRoot(t), "testdata", "gnrdaemon", "gnrdaemon.py")
	cmd := exec.Command(DebianPython, "-u", script, "--host", "127.0.0.1",
		"--port", strconv.Itoa(port), "--hmac", key)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	d := &Gnrdaemon{Key: key, Cmd: cmd, logs: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = logWriter{d.logs}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start gnrdaemon: %v", err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			d.logs.WriteLine(line)
			if v, ok := strings.CutPrefix(line, "URI="); ok {
				d.URI = v
			}
			if v, ok := strings.CutPrefix(line, "PORT="); ok {
				d.Port, _ = strconv.Atoi(v)
				close(ready)
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		_ = cmd.Wait()
		close(d.exited)
	}()
	t.Cleanup(func() {
		d.Kill()
		if t.Failed() {
			t.Logf("gnrdaemon output:\n%s", d.Logs())
		}
	})
	select {
	case <-ready:
		d.Addr = fmt.Sprintf("127.0.0.1:%d", d.Port)
	case <-d.exited:
		t.Fatalf("gnrdaemon exited before it was ready; output:\n%s", d.Logs())
	case <-time.After(20 * time.Second):
		t.Fatalf("gnrdaemon not ready within 20s; output:\n%s", d.Logs())
	}
	return d
}

// Kill stops the daemon (SIGKILL, as a crash) and waits for it to exit.
func (d *Gnrdaemon) Kill() {
	select {
	case <-d.exited:
		return
	default:
	}
	_ = d.Cmd.Process.Kill()
	<-d.exited
}

// Logs returns the daemon's stdout and stderr so far.
func (d *Gnrdaemon) Logs() string { return d.logs.String() }

// logWriter feeds stderr into a syncBuffer.
type logWriter struct{ b *syncBuffer }

func (w logWriter) Write(p []byte) (int, error) {
	w.b.WriteLine(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
