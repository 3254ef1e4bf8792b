package legacywsgi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/internal/testpeer"
)

// siteDir copies the example app into a temp dir the test may change.
func siteDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"app.py", "broken.py"} {
		b, err := os.ReadFile(filepath.Join(testpeer.ModuleRoot(t), "examples/legacy", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func newSite(t *testing.T, dir, app string) (abi.LegacyApp, error) {
	t.Helper()
	testpeer.RequirePython(t, "gunicorn")
	raw, _ := json.Marshal(map[string]any{"app": app, "workers": 1, "restart_initial": "50ms", "graceful_timeout": "2s"})
	return Factory.New(context.Background(), raw, dir, slog.New(slog.DiscardHandler))
}

func get(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	sock := strings.TrimPrefix(addr, "unix:")
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	resp, err := c.Get("http://legacy" + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestServesReloadsAndStops(t *testing.T) {
	dir := siteDir(t)
	if err := os.WriteFile(filepath.Join(dir, "version.txt"), []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	app, err := newSite(t, dir, "app:application")
	if err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, app.Address(), "/version"); code != 200 || body != "one" {
		t.Fatalf("/version: %d %q", code, body)
	}
	// A reload makes gunicorn start workers that import the app afresh.
	if err := os.WriteFile(filepath.Join(dir, "version.txt"), []byte("two"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := app.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, body := get(t, app.Address(), "/version"); body == "two" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("reload never served the new code")
		}
		time.Sleep(50 * time.Millisecond)
	}
	pid := app.(*site).proc.cmd.Process.Pid
	if err := app.Close(); err != nil {
		t.Fatal(err)
	}
	if !testpeer.WaitGone(pid, 5*time.Second) {
		t.Fatalf("gunicorn %d still runs after Close", pid)
	}
	if _, err := os.Stat(strings.TrimPrefix(app.Address(), "unix:")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket left behind: %v", err)
	}
}

func TestRestartsAfterCrash(t *testing.T) {
	app, err := newSite(t, siteDir(t), "app:application")
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	s := app.(*site)
	old := s.proc.cmd.Process.Pid
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Down right after the crash, then up again on a new master.
	deadline := time.Now().Add(20 * time.Second)
	for {
		s.mu.Lock()
		up, p := s.up, s.proc
		s.mu.Unlock()
		if up && p.cmd.Process.Pid != old {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("gunicorn not restarted")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, _ := get(t, app.Address(), "/"); code != 200 {
		t.Fatalf("after restart: %d", code)
	}
}

func TestImportFailureSaysWhy(t *testing.T) {
	_, err := newSite(t, siteDir(t), "broken:application")
	if err == nil || !strings.Contains(err.Error(), "ModuleNotFoundError: No module named 'a_module_that_does_not_exist'") {
		t.Fatalf("err = %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	for raw, want := range map[string]string{
		`{}`:                                 "app is required",
		`{"app":"nocolon"}`:                  `expected "module:callable"`,
		`{"app":"a:b","upstream":"unix:/x"}`: "not both",
		`{"upstream":"ftp://x"}`:             "expected",
		`{"app":"a:b","workers":1000}`:       "workers",
		`{"app":"a:b","timeout":5}`:          "duration",
		`{"app":"a:b","colour":"blue"}`:      "unknown field",
		`{"upstream":"unix:relative/path"}`:  "absolute path",
	} {
		if _, err := ParseConfig(json.RawMessage(raw)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", raw, err, want)
		}
	}
}
