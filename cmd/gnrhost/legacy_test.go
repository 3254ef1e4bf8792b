package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gnrhost/gnrhost/internal/testpeer"
)

// legacySet writes a set serving examples/legacy/<app> through legacy-wsgi, with the
// gunicorn socket at a known path so the test can find its processes.
func legacySet(t *testing.T, app string) (path, socket string) {
	t.Helper()
	testpeer.RequirePython(t, "gunicorn")
	dir := t.TempDir()
	socket = filepath.Join(dir, "site.sock")
	yml := fmt.Sprintf(`registry: {plugin: registry-mem}
legacy:
  plugin: legacy-wsgi
  config:
    app: %s
    chdir: %s
    workers: 2
    socket: %s
    restart_initial: 1s
`, app, filepath.Join(testpeer.ModuleRoot(t), "examples/legacy"), socket)
	path = filepath.Join(dir, "legacy.yaml")
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, socket
}

// gunicornMaster finds the gunicorn master serving socket: the process whose command
// line names the socket and whose parent is the host.
func gunicornMaster(t *testing.T, hostPID int, socket string) int {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if !bytes.Contains(cmdline, []byte(socket)) || testpeer.ProcessGone(pid) {
			continue
		}
		stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(hostPID) {
			return pid
		}
	}
	return 0
}

func TestLegacySiteThroughHost(t *testing.T) {
	path, socket := legacySet(t, "app:application")
	h := testpeer.StartHost(t, "--plugins", path)

	if code, body := get(t, h.URL("/")); code != 200 || !strings.Contains(body, "hello from the legacy site") {
		t.Fatalf("/: %d %s", code, body)
	}
	// The host's own endpoints are not proxied.
	if code, body := get(t, h.URL("/readyz")); code != 200 || !strings.Contains(body, `"slot":"legacy"`) {
		t.Fatalf("/readyz: %d %s", code, body)
	}
	req, _ := http.NewRequest("GET", h.URL("/headers"), nil)
	req.Header.Set("X-Forwarded-For", "6.6.6.6") // a client's claim is not passed on as fact
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var seen map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&seen)
	resp.Body.Close()
	if seen["HTTP_X_FORWARDED_FOR"] != "127.0.0.1" || seen["HTTP_X_FORWARDED_PROTO"] != "http" || seen["HTTP_X_FORWARDED_HOST"] != h.Addr || seen["HTTP_HOST"] != h.Addr {
		t.Fatalf("forwarded headers %v", seen)
	}

	// A 5 MB upload streams through and back intact.
	payload := make([]byte, 5<<20)
	_, _ = rand.Read(payload)
	sum := sha256.Sum256(payload)
	resp, err = http.Post(h.URL("/echo"), "application/octet-stream", bytes.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	back, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Body-Sha256") != hex.EncodeToString(sum[:]) || !bytes.Equal(back, payload) {
		t.Fatalf("echo: %d, sha %s, %d bytes back", resp.StatusCode, resp.Header.Get("X-Body-Sha256"), len(back))
	}

	// A chunked response reaches the client chunk by chunk, not all at the end.
	start := time.Now()
	resp, err = http.Get(h.URL("/chunked"))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "chunk 0\n" {
		t.Fatalf("first chunk %q %v", buf, err)
	}
	first := time.Since(start)
	rest, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	total := time.Since(start)
	if !strings.HasSuffix(string(rest), "chunk 4\n") || first >= total-100*time.Millisecond {
		t.Fatalf("chunks not streamed: first after %s, all after %s", first, total)
	}

	// gunicorn killed: quick 503s naming the plugin, then the restarted site serves.
	master := gunicornMaster(t, h.Cmd.Process.Pid, socket)
	if master == 0 {
		t.Fatal("gunicorn master not found")
	}
	if err := syscall.Kill(master, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	h.WaitLog(t, "gunicorn exited; restarting", 10*time.Second)
	start = time.Now()
	code, body := get(t, h.URL("/"))
	if code != 503 || !strings.Contains(body, "legacy-wsgi") || time.Since(start) > 2*time.Second {
		t.Fatalf("while down: %d %s after %s", code, body, time.Since(start))
	}
	h.WaitLog(t, "gunicorn serving", 20*time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if code, _ := get(t, h.URL("/")); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("site not back after restart")
		}
		time.Sleep(20 * time.Millisecond)
	}

	// The host stops gunicorn when it stops.
	master = gunicornMaster(t, h.Cmd.Process.Pid, socket)
	h.Signal(t, syscall.SIGTERM)
	if code := h.Wait(t, 20*time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if !testpeer.WaitGone(master, 10*time.Second) {
		t.Fatalf("gunicorn %d outlived the host", master)
	}
}

func TestLegacyGunicornDiesWithKilledHost(t *testing.T) {
	path, socket := legacySet(t, "app:application")
	h := testpeer.StartHost(t, "--plugins", path)
	master := gunicornMaster(t, h.Cmd.Process.Pid, socket)
	if master == 0 {
		t.Fatal("gunicorn master not found")
	}
	h.Signal(t, syscall.SIGKILL)
	h.Wait(t, 10*time.Second)
	if !testpeer.WaitGone(master, 15*time.Second) {
		t.Fatalf("gunicorn %d outlived the killed host", master)
	}
}

func TestLegacyImportErrorFailsServe(t *testing.T) {
	path, _ := legacySet(t, "broken:application")
	cmd := exec.Command(testpeer.Gnrhost(t), "serve", "--plugins", path, "--listen", "127.0.0.1:0")
	out, _ := cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != exitFail || !strings.Contains(string(out), "ModuleNotFoundError: No module named 'a_module_that_does_not_exist'") {
		t.Fatalf("exit %d, output:\n%s", cmd.ProcessState.ExitCode(), out)
	}
}
