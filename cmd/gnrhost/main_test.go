package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gnrhost/gnrhost/internal/testpeer"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testpeer.CleanupBuilds()
	os.Exit(code)
}

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestValidateExamples(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(testpeer.ModuleRoot(t), "examples", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples found: %v", err)
	}
	for _, f := range files {
		code, out, errOut := runCLI("validate", f)
		if code != exitOK || !strings.Contains(out, "valid plugin set") {
			t.Errorf("validate %s: exit %d\nstdout: %s\nstderr: %s", f, code, out, errOut)
		}
	}
}

func TestValidateReportsEveryProblemWithPosition(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	yml := "registry:\n  plugin: registry-nope\n  colour: blue\nexecutors:\n  workers: lots\n"
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI("validate", path)
	if code != exitFail {
		t.Fatalf("exit %d, want %d", code, exitFail)
	}
	for _, want := range []string{
		path + `:2:11: registry.plugin: unknown plugin "registry-nope"`,
		path + `:3:3: registry.colour: unknown key`,
		path + `:5:12: executors.workers: expected an integer, found the string "lots"`,
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

func TestUsageAndHelp(t *testing.T) {
	if code, _, _ := runCLI(); code != exitUsage {
		t.Errorf("no args: exit %d", code)
	}
	if code, _, errOut := runCLI("frobnicate"); code != exitUsage || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: exit %d, %s", code, errOut)
	}
	for _, cmd := range []string{"serve", "validate", "version", "plugin"} {
		code, out, _ := runCLI(cmd, "--help")
		if code != exitOK || !strings.Contains(out, "Usage: gnrhost "+cmd) {
			t.Errorf("%s --help: exit %d, %q", cmd, code, out)
		}
	}
	if _, out, _ := runCLI("plugin", "--help"); !strings.Contains(out, "not meant to be run by people") {
		t.Errorf("plugin --help does not say it is internal: %q", out)
	}
	if code, out, _ := runCLI("version"); code != exitOK || !strings.Contains(out, "registry protocol 1") {
		t.Errorf("version: exit %d, %q", code, out)
	}
	if code, _, errOut := runCLI("serve"); code != exitUsage || !strings.Contains(errOut, "--plugins FILE is required") {
		t.Errorf("serve without --plugins: exit %d, %q", code, errOut)
	}
	if code, _, errOut := runCLI("plugin", "registry-mem"); code != exitFail || !strings.Contains(errOut, "not by people") {
		t.Errorf("plugin run by hand: exit %d, %q", code, errOut)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestServeMinimal(t *testing.T) {
	h := testpeer.StartHost(t, "--plugins", "examples/minimal.yaml")
	if code, body := get(t, h.URL("/healthz")); code != 200 {
		t.Fatalf("/healthz: %d %s", code, body)
	}
	if code, body := get(t, h.URL("/readyz")); code != 200 || !strings.Contains(body, `"state":"up"`) {
		t.Fatalf("/readyz: %d %s", code, body)
	}
	if code, body := get(t, h.URL("/_gnr/connection")); code != 200 || !strings.Contains(body, `"guest":true`) {
		t.Fatalf("/_gnr/connection: %d %s", code, body)
	}
	code, body := get(t, h.URL("/metrics"))
	for _, series := range []string{"gnrhost_http_requests_total{code=\"200\",route=\"health\"}", "gnrhost_plugin_up{", "gnrhost_registry_operation_duration_seconds_bucket{", "gnrhost_executor_queued"} {
		if code != 200 || !strings.Contains(body, series) {
			t.Errorf("/metrics lacks %s (status %d)", series, code)
		}
	}
	start := time.Now()
	h.Signal(t, syscall.SIGTERM)
	if code := h.Wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d", code)
	}
	t.Logf("SIGTERM to exit: %s", time.Since(start))
}

func TestServeRefusesInvalidSet(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(path, []byte("registry: {plugin: nope}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(testpeer.Gnrhost(t), "serve", "--plugins", path, "--listen", "127.0.0.1:0")
	out, err := cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() != exitFail || !strings.Contains(string(out), path+":1:20: registry.plugin") {
		t.Fatalf("err %v, output:\n%s", err, out)
	}
}

type readyz struct {
	Status  string `json:"status"`
	Plugins []struct {
		State    string `json:"state"`
		PID      int    `json:"pid"`
		Restarts int    `json:"restarts"`
	} `json:"plugins"`
}

func readReady(t *testing.T, h *testpeer.Host) (int, readyz) {
	t.Helper()
	code, body := get(t, h.URL("/readyz"))
	var r readyz
	if err := json.Unmarshal([]byte(body), &r); err != nil || len(r.Plugins) != 1 {
		t.Fatalf("/readyz body %q: %v", body, err)
	}
	return code, r
}

// writeSet writes a set with registry-mem out-of-process and the given restart backoff.
func writeProcessSet(t *testing.T, initialBackoff string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "process.yaml")
	yml := fmt.Sprintf("registry:\n  plugin: registry-mem\n  mode: process\n  restart: {initial: %s, max: 5s}\nhealth: {interval: 200ms, timeout: 500ms}\n", initialBackoff)
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// A plugin killed with SIGKILL is restarted; meanwhile registry requests get a quick 503
// that names the plugin, and /readyz says not ready.
func TestOutOfProcessPluginRestartsAfterKill(t *testing.T) {
	h := testpeer.StartHost(t, "--plugins", writeProcessSet(t, "1s"))
	code, r := readReady(t, h)
	if code != 200 || r.Plugins[0].PID == 0 {
		t.Fatalf("/readyz before kill: %d %+v", code, r)
	}
	oldPID := r.Plugins[0].PID
	if err := syscall.Kill(oldPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	h.WaitLog(t, "plugin down; restarting", 10*time.Second)

	start := time.Now()
	code, body := get(t, h.URL("/_gnr/connection"))
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "plugin registry-mem (registry slot) is unavailable") {
		t.Fatalf("during restart: %d %s", code, body)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("503 took %s; want fast failure", took)
	}
	if code, _ := readReady(t, h); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz during restart: %d, want 503", code)
	}

	h.WaitLog(t, "plugin restarted", 15*time.Second)
	code, r = readReady(t, h)
	if code != 200 || r.Plugins[0].Restarts != 1 || r.Plugins[0].PID == oldPID || r.Plugins[0].PID == 0 {
		t.Fatalf("/readyz after restart: %d %+v", code, r)
	}
	if code, body := get(t, h.URL("/_gnr/connection")); code != 200 {
		t.Fatalf("after restart: %d %s", code, body)
	}
	if !testpeer.ProcessGone(oldPID) {
		t.Errorf("old plugin process %d still runs", oldPID)
	}
}

// SIGKILL to the host leaves no plugin process behind.
func TestHostKilledLeavesNoPlugin(t *testing.T) {
	h := testpeer.StartHost(t, "--plugins", writeProcessSet(t, "100ms"))
	_, r := readReady(t, h)
	pid := r.Plugins[0].PID
	if pid == 0 || testpeer.ProcessGone(pid) {
		t.Fatalf("plugin pid %d not running", pid)
	}
	h.Signal(t, syscall.SIGKILL)
	h.Wait(t, 10*time.Second)
	if !testpeer.WaitGone(pid, 5*time.Second) {
		t.Fatalf("plugin process %d outlived the killed host", pid)
	}
}

// SIGTERM stops the out-of-process plugin too, and the host exits 0.
func TestGracefulShutdownStopsPlugin(t *testing.T) {
	h := testpeer.StartHost(t, "--plugins", writeProcessSet(t, "100ms"))
	_, r := readReady(t, h)
	h.Signal(t, syscall.SIGTERM)
	if code := h.Wait(t, 10*time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if !testpeer.WaitGone(r.Plugins[0].PID, 5*time.Second) {
		t.Fatalf("plugin %d still runs after graceful shutdown", r.Plugins[0].PID)
	}
}

// The phase files serve the example pages in every language on a fresh checkout.
func TestServePhaseFiles(t *testing.T) {
	for _, file := range []string{"examples/phase4.yaml", "examples/phase5.yaml"} {
		t.Run(filepath.Base(file), func(t *testing.T) {
			h := testpeer.StartHost(t, "--plugins", file)
			for _, page := range []string{"counter", "todo"} {
				for _, lang := range []string{"go", "c", "rust", "assemblyscript", "wat"} {
					code, body := get(t, h.URL("/"+page+"/"+lang))
					if code != 200 || !strings.Contains(body, `data-gnr-example="`+page+`"`) || !strings.Contains(body, `<meta name="gnr-page-id"`) {
						t.Fatalf("/%s/%s: %d %.200s", page, lang, code, body)
					}
				}
			}
			h.Signal(t, syscall.SIGTERM)
			if code := h.Wait(t, 10*time.Second); code != 0 {
				t.Fatalf("exit code %d", code)
			}
		})
	}
}
