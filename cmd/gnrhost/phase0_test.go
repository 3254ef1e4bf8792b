package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gnrhost/gnrhost/internal/testpeer"
)

const (
	phase0Key    = "phase0-test-hmac"
	phase0Token  = "phase0-events-token-0123456789"
	phase0Secret = "phase0-cookie-secret"
)

// phase0Set writes a phase-0 set: the miniature Genropy site under legacy-wsgi and
// registry-pyro (out of process) on the same gnrdaemon.
func phase0Set(t *testing.T, d *testpeer.Gnrdaemon) string {
	t.Helper()
	testpeer.RequirePython(t, "gunicorn")
	t.Setenv("GNRHOST_TEST_EVENTS_TOKEN", phase0Token)
	t.Setenv("GNRHOST_TEST_PYRO_KEY", phase0Key)
	yml := fmt.Sprintf(`registry:
  plugin: registry-pyro
  mode: process
  config: {site: interop, daemon: %q, hmac_key_env: GNRHOST_TEST_PYRO_KEY, call_timeout: 2s}
legacy:
  plugin: legacy-wsgi
  config:
    app: app:application
    chdir: %s
    workers: 2
    worker_class: gthread
    threads: 4
    env:
      GNR_DAEMON_URI: %q
      GNR_DAEMON_HMAC: %q
      GNR_SITE_NAME: interop
      GNR_SITE_SECRET: %q
events: {token_env: GNRHOST_TEST_EVENTS_TOKEN}
`, d.Addr, filepath.Join(testpeer.ModuleRoot(t), "examples/legacy"), d.URI, phase0Key, phase0Secret)
	path := filepath.Join(t.TempDir(), "phase0.yaml")
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// openLegacyPage asks the Python site (through the host) for a page subscribed to tables.
func openLegacyPage(t *testing.T, h *testpeer.Host, tables string) (pageID string, cookie *http.Cookie) {
	t.Helper()
	resp, err := http.Get(h.URL("/pages/index?subscribe=" + url.QueryEscape(tables)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Gnr-Page-Id") == "" || len(resp.Cookies()) != 1 {
		t.Fatalf("GET /pages/index: %d %v %.300s", resp.StatusCode, resp.Header, body)
	}
	return resp.Header.Get("X-Gnr-Page-Id"), resp.Cookies()[0]
}

// legacyPing is the page's /_ping through the host: its datachanges, in the site's XML.
func legacyPing(t *testing.T, h *testpeer.Host, pageID string, cookie *http.Cookie) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.URL("/_ping"), strings.NewReader(url.Values{"page_id": {pageID}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("/_ping: %d %s", resp.StatusCode, body)
	}
	return string(body)
}

func postDbEvent(t *testing.T, h *testpeer.Host, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.URL("/_gnr/dbevents"), strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+phase0Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// exampleSet copies examples/NAME.yaml beside it (relative paths stay valid) with the
// gnrdaemon address it names (localhost:40404) replaced by d's (when d is not nil), and
// extra appended. A fixed port is unsafe in tests: it can be any outgoing connection's
// local port.
func exampleSet(t *testing.T, name string, d *testpeer.Gnrdaemon, extra string) string {
	t.Helper()
	root := testpeer.ModuleRoot(t)
	raw, err := os.ReadFile(filepath.Join(root, "examples", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	if d != nil {
		text = strings.ReplaceAll(text, "localhost:40404", d.Addr)
	}
	path := filepath.Join(root, "examples", fmt.Sprintf(".%s-test-%d-%d.yaml", name, os.Getpid(), exampleSeq.Add(1)))
	if err := os.WriteFile(path, []byte(text+"\n"+extra), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(path) })
	return path
}

var exampleSeq atomic.Int64

// TestPhase0Interop: the Python site and the host share gnrdaemon. A page the site
// registers (served through legacy-wsgi) is seen by the host through registry-pyro; a
// dbevent the host notifies through registry-pyro shows up in that page's /_ping.
func TestPhase0Interop(t *testing.T) {
	d := testpeer.StartGnrdaemon(t, phase0Key, 0)
	h := testpeer.StartHost(t, "--plugins", phase0Set(t, d))

	subscribed, cookie := openLegacyPage(t, h, "todo.item")
	other, otherCookie := openLegacyPage(t, h, "todo.list")

	if n, ok := metricValue(t, h.URL(""), `gnrhost_registry_items{register="page"}`); !ok || n != 2 {
		t.Errorf("host sees %v pages through registry-pyro (reported: %v), want the site's 2", n, ok)
	}

	code, body := postDbEvent(t, h, `{"events": [{"table": "todo.item", "action": "I", "pkey": "k42", "data": {"title": "milk"}}], "reason": "interop"}`)
	if code != 200 || !strings.Contains(body, `"table":"todo.item","pages":1`) {
		t.Fatalf("POST /_gnr/dbevents: %d %s, want todo.item delivered to the site's one subscribed page", code, body)
	}
	ping := legacyPing(t, h, subscribed, cookie)
	for _, want := range []string{`change_path="gnr.dbchanges.todo_item"`, `k42`, `milk`, `interop`} {
		if !strings.Contains(ping, want) {
			t.Errorf("the subscribed page's /_ping lacks %s:\n%s", want, ping)
		}
	}
	if ping := legacyPing(t, h, other, otherCookie); strings.Contains(ping, "gnr.dbchanges") {
		t.Errorf("a page not subscribed to todo.item got the change:\n%s", ping)
	}

	// The daemon goes away: the host answers 503 at once, and recovers by itself when a
	// daemon is back on the same address.
	d.Kill()
	start := time.Now()
	if code, body := postDbEvent(t, h, `{"events": [{"table": "todo.item", "action": "U"}]}`); code != http.StatusServiceUnavailable {
		t.Errorf("dbevent with the daemon down: %d %s, want 503", code, body)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("the 503 took %v", took)
	}
	testpeer.StartGnrdaemon(t, phase0Key, d.Port)
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, body := postDbEvent(t, h, `{"events": [{"table": "todo.item", "action": "U"}]}`)
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the host did not recover after the daemon came back: %d %s", code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	h.Signal(t, syscall.SIGTERM)
	if code := h.Wait(t, 15*time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

// TestPhase0File serves examples/phase0.yaml as written but for the daemon's port.
func TestPhase0File(t *testing.T) {
	testpeer.RequirePython(t, "gunicorn")
	d := testpeer.StartGnrdaemon(t, "supersecretkey", 0)
	h := testpeer.StartHost(t, "--plugins", exampleSet(t, "phase0", d, ""))
	pageID, _ := openLegacyPage(t, h, "todo.item")
	if len(pageID) != 22 {
		t.Errorf("page id %q, want 22 characters", pageID)
	}
	if code, _ := get(t, h.URL("/readyz")); code != 200 {
		t.Errorf("/readyz = %d", code)
	}
	h.Signal(t, syscall.SIGTERM)
	if code := h.Wait(t, 15*time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}

// TestPhase0Phase3Swaps swaps phase0.yaml <-> phase3.yaml (as written but for the
// daemon's port) while clients keep using the legacy site: no legacy
// request fails, the reused gunicorn reloads gracefully, and phase 3's WASM pages serve
// beside the legacy pages, their state in gnrdaemon.
func TestPhase0Phase3Swaps(t *testing.T) {
	testpeer.RequirePython(t, "gunicorn")
	d := testpeer.StartGnrdaemon(t, "supersecretkey", 0)
	socket := filepath.Join(t.TempDir(), "admin.sock")
	sets := map[string]string{}
	for _, name := range []string{"phase0", "phase3"} {
		sets[name] = exampleSet(t, name, d, "admin: {socket: "+socket+"}\n")
	}
	h := testpeer.StartHost(t, "--plugins", sets["phase0"])

	var failures, done atomic.Int64
	var lastErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			jar, _ := cookiejar.New(nil)
			c := &http.Client{Jar: jar, Timeout: 20 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := c.Get(h.URL("/pages/index?subscribe=todo.item"))
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if err != nil || resp.StatusCode != 200 {
					failures.Add(1)
					lastErr.Store(fmt.Sprint(err, resp))
					continue
				}
				done.Add(1)
			}
		}()
	}
	wait := func(n int64) {
		start := done.Load()
		deadline := time.Now().Add(20 * time.Second)
		for done.Load() < start+n {
			if time.Now().After(deadline) {
				t.Fatalf("legacy clients stalled")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	for i := range 6 {
		wait(10)
		target := sets["phase3"]
		if i%2 == 1 {
			target = sets["phase0"]
		}
		code, out, errOut := gnrhostCmd(t, "swap", "--admin", socket, target)
		if code != 0 || !strings.Contains(out, "legacy legacy-wsgi kept running") || !strings.Contains(out, "registry registry-pyro kept running") {
			t.Fatalf("swap %d: %d %s %s", i, code, out, errOut)
		}
		if i%2 == 0 {
			// Phase 3: a WASM page beside the legacy site, with its state in gnrdaemon.
			jar, _ := cookiejar.New(nil)
			c := &http.Client{Jar: jar}
			resp, err := c.Get(h.URL("/counter/wat"))
			if err != nil || resp.StatusCode != 200 || resp.Header.Get("X-Gnr-Page-Id") == "" {
				t.Fatalf("phase 3 page: %v %v", err, resp)
			}
			resp.Body.Close()
		}
	}
	wait(10)
	close(stop)
	wg.Wait()
	if n := failures.Load(); n > 0 {
		t.Errorf("%d legacy requests failed across the swaps (last: %v)", n, lastErr.Load())
	}
}

// TestPhase3PushThroughGnrdaemon: phase3.yaml (the daemon's port aside), registers in gnrdaemon. Two
// users on the todo page (ephemeral: rebuilt from gnrdaemon on every request); an item
// one adds reaches the other's open WebSocket as a push.
func TestPhase3PushThroughGnrdaemon(t *testing.T) {
	testpeer.RequirePython(t, "gunicorn")
	d := testpeer.StartGnrdaemon(t, "supersecretkey", 0)
	h := testpeer.StartHost(t, "--plugins", exampleSet(t, "phase3", d, ""))
	alicePage, aliceHTTP, _ := openPage(t, h, "/todo/wat")
	bobPage, _, bobCookies := openPage(t, h, "/todo/wat")
	bob := dialPage(t, h.Addr, bobPage, bobCookies)

	body := fmt.Sprintf(`{"page_id":%q,"method":"add","params":{"text":"milk"}}`, alicePage)
	resp, err := aliceHTTP.Post(h.URL("/_gnr/rpc"), "application/json", strings.NewReader(body))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("alice adds: %v %v", err, resp)
	}
	resp.Body.Close()
	push := bob.nextPush(t, 5*time.Second)
	if items := fmt.Sprint(push["items"]); !strings.Contains(items, "milk") {
		t.Errorf("bob's push %v lacks alice's item", push)
	}
}
