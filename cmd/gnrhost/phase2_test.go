package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gnrhost/gnrhost/internal/testpeer"
)

// pyroIPCSet writes a set for several host processes sharing one gnrdaemon, with the
// phase 2 flag: dbevents between the processes go through gnrdaemon.
func pyroIPCSet(t *testing.T, d *testpeer.Gnrdaemon) string {
	t.Helper()
	t.Setenv("GNRHOST_TEST_PYRO_KEY", phase0Key)
	t.Setenv("GNRHOST_TEST_SECRET", phase0Secret+"-shared-by-processes")
	yml := fmt.Sprintf(`registry:
  plugin: registry-pyro
  config: {site: phase2, daemon: %q, hmac_key_env: GNRHOST_TEST_PYRO_KEY, call_timeout: 2s}
ipc: {backend: pyro, poll: 20ms}
session: {secret_env: GNRHOST_TEST_SECRET}
pages:
  - {route: /todo/wat, module: %s, lifecycle: ephemeral}
  - {route: /counter/wat, module: %s, lifecycle: resident}
`, d.Addr, filepath.Join(testpeer.ModuleRoot(t), "examples/pages/todo/wat/todo.wasm"),
		filepath.Join(testpeer.ModuleRoot(t), "examples/pages/counter/wat/counter.wasm"))
	path := filepath.Join(t.TempDir(), "phase2.yaml")
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestPyroIPCAcrossProcesses: two host processes share gnrdaemon with `ipc: {backend:
// pyro}`. An item Alice adds on process 1 reaches the WebSocket Bob holds on process 2;
// without the mailbox only process 1 would know of the event. Each process delivers to
// its own pages only.
func TestPyroIPCAcrossProcesses(t *testing.T) {
	d := testpeer.StartGnrdaemon(t, phase0Key, 0)
	set := pyroIPCSet(t, d)
	p1 := testpeer.StartHost(t, "--plugins", set, "--process", "1")
	p2 := testpeer.StartHost(t, "--plugins", set, "--process", "2")
	alicePage, aliceHTTP, _ := openPage(t, p1, "/todo/wat")
	bobPage, _, bobCookies := openPage(t, p2, "/todo/wat")
	if !strings.HasSuffix(alicePage, "|p01") || !strings.HasSuffix(bobPage, "|p02") {
		t.Fatalf("page ids %q, %q: want the process suffixes", alicePage, bobPage)
	}
	bob := dialPage(t, p2.Addr, bobPage, bobCookies)

	for i, text := range []string{"milk", "bread", "eggs"} {
		body := fmt.Sprintf(`{"page_id":%q,"method":"add","params":{"text":%q}}`, alicePage, text)
		resp, err := aliceHTTP.Post(p1.URL("/_gnr/rpc"), "application/json", strings.NewReader(body))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("alice adds %s: %v %v", text, err, resp)
		}
		resp.Body.Close()
		push := bob.nextPush(t, 10*time.Second)
		if items := fmt.Sprint(push["items"]); !strings.Contains(items, text) {
			t.Errorf("bob's push %d %v lacks alice's %s", i, push, text)
		}
	}
	if strings.Contains(p1.Logs(), "level=ERROR") || strings.Contains(p2.Logs(), "level=ERROR") {
		t.Errorf("errors logged:\n%s\n%s", p1.Logs(), p2.Logs())
	}
}
