package testpeer

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// ModuleRoot is the checkout's root (where go.mod is).
func ModuleRoot(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Gnrhost builds ./cmd/gnrhost once per test binary (with -race when the tests run with
// it) and returns its path. The binary lives in a directory removed by CleanupBuilds.
func Gnrhost(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gnrhost-build-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "gnrhost")
		args := []string{"build", "-o", buildPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		args = append(args, "./cmd/gnrhost")
		cmd := exec.Command("go", args...)
		cmd.Dir = ModuleRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/gnrhost: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// CleanupBuilds removes the built binary; call it from TestMain after m.Run.
func CleanupBuilds() {
	if buildPath != "" {
		os.RemoveAll(filepath.Dir(buildPath))
	}
}

// Host is a running `gnrhost serve`.
type Host struct {
	Addr string // host:port it listens on
	Cmd  *exec.Cmd

	logs   *syncBuffer
	exited chan struct{}
	err    error
}

var listeningRE = regexp.MustCompile(`msg=listening addr=(\S+)`)

// StartHost runs `gnrhost serve --listen 127.0.0.1:0 ARGS...` and waits (up to 30 s) for
// its "listening" log line. The host is killed at cleanup if still running.
func StartHost(t testing.TB, args ...string) *Host {
	t.Helper()
	full := append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)
	cmd := exec.Command(Gnrhost(t), full...)
	cmd.Dir = ModuleRoot(t)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	h := &Host{Cmd: cmd, logs: &syncBuffer{}, exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start gnrhost: %v", err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			line := sc.Text()
			h.logs.WriteLine(line)
			if m := listeningRE.FindStringSubmatch(line); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		h.err = cmd.Wait()
		close(h.exited)
	}()
	t.Cleanup(func() {
		if h.Running() {
			_ = cmd.Process.Kill()
			<-h.exited
		}
		if t.Failed() {
			t.Logf("gnrhost logs:\n%s", h.Logs())
		}
	})
	select {
	case a := <-addr:
		h.Addr = a
	case <-h.exited:
		t.Fatalf("gnrhost exited before listening (%v); logs:\n%s", h.err, h.Logs())
	case <-time.After(30 * time.Second):
		t.Fatalf("gnrhost did not listen within 30s; logs:\n%s", h.Logs())
	}
	return h
}

// URL returns http://ADDR + path.
func (h *Host) URL(path string) string { return "http://" + h.Addr + path }

// Logs returns everything the host logged so far.
func (h *Host) Logs() string { return h.logs.String() }

// WaitLog waits until a log line contains substr.
func (h *Host) WaitLog(t testing.TB, substr string, timeout time.Duration) {
	t.Helper()
	if !h.logs.WaitFor(substr, timeout) {
		t.Fatalf("no log line with %q within %s; logs:\n%s", substr, timeout, h.Logs())
	}
}

// Running reports whether the process has not exited.
func (h *Host) Running() bool {
	select {
	case <-h.exited:
		return false
	default:
		return true
	}
}

// Signal sends sig to the host.
func (h *Host) Signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if err := h.Cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
}

// Wait waits for the host to exit and returns its exit code, or fails after timeout.
func (h *Host) Wait(t testing.TB, timeout time.Duration) int {
	t.Helper()
	select {
	case <-h.exited:
	case <-time.After(timeout):
		t.Fatalf("gnrhost still running after %s; logs:\n%s", timeout, h.Logs())
	}
	return h.Cmd.ProcessState.ExitCode()
}

// syncBuffer collects log lines and lets a test wait for one.
type syncBuffer struct {
	mu   sync.Mutex
	cond *sync.Cond
	buf  bytes.Buffer
}

func (b *syncBuffer) WriteLine(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.WriteString(s)
	b.buf.WriteByte('\n')
	if b.cond != nil {
		b.cond.Broadcast()
	}
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *syncBuffer) WaitFor(substr string, timeout time.Duration) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cond == nil {
		b.cond = sync.NewCond(&b.mu)
	}
	deadline := time.Now().Add(timeout)
	timer := time.AfterFunc(timeout, func() {
		b.mu.Lock()
		b.cond.Broadcast()
		b.mu.Unlock()
	})
	defer timer.Stop()
	for !strings.Contains(b.buf.String(), substr) {
		if time.Now().After(deadline) {
			return false
		}
		b.cond.Wait()
	}
	return true
}

// ProcessGone reports whether pid no longer runs: absent, or a zombie nobody reaped
// (as happens in containers whose init does not reap orphans).
func ProcessGone(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state is the field after the parenthesised command name.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && (s[i+2] == 'Z' || s[i+2] == 'X')
}

// WaitGone waits up to timeout for pid to stop running.
func WaitGone(pid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if ProcessGone(pid) {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return ProcessGone(pid)
}
