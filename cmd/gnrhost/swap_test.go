package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gnrhost/gnrhost/host/admin"
	"github.com/gnrhost/gnrhost/internal/testpeer"
)

// writeSet writes a plugin-set file into dir.
func writeSet(t *testing.T, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name+".yaml")
	if err := os.WriteFile(path, []byte("name: "+name+"\n"+body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// gnrhostCmd runs the gnrhost binary with args and returns its exit code and output.
func gnrhostCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(testpeer.Gnrhost(t), args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run gnrhost %v: %v", args, err)
	}
	return code, out.String(), errOut.String()
}

func statusOf(t *testing.T, socket string) admin.Status {
	t.Helper()
	code, out, errOut := gnrhostCmd(t, "status", "--admin", socket, "--json")
	if code != 0 {
		t.Fatalf("status: %d %s", code, errOut)
	}
	var st admin.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	return st
}

func TestAdminSwapRollbackStatus(t *testing.T) {
	dir := t.TempDir()
	socket := filepath.Join(dir, "admin", "admin.sock")
	first := writeSet(t, dir, "first", "registry: {plugin: registry-mem}\nadmin: {socket: "+socket+"}\n")
	second := writeSet(t, dir, "second", "registry: {plugin: registry-mem}\n")
	invalid := writeSet(t, dir, "invalid", "registry: {plugin: registry-mem}\nbogus: 1\n")
	testpeer.RequirePython(t, "gunicorn")
	broken := writeSet(t, dir, "broken", fmt.Sprintf("registry: {plugin: registry-mem}\nlegacy: {plugin: legacy-wsgi, config: {app: 'broken:application', chdir: %s}}\n",
		filepath.Join(testpeer.ModuleRoot(t), "examples/legacy")))
	h := testpeer.StartHost(t, "--plugins", first)

	fi, err := os.Stat(socket)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Mode()&os.ModeSocket == 0 {
		t.Errorf("admin socket mode %v, want a socket with 0600", fi.Mode())
	}
	if di, _ := os.Stat(filepath.Dir(socket)); di.Mode().Perm() != 0o700 {
		t.Errorf("admin socket directory mode %v, want 0700", di.Mode().Perm())
	}
	// Never on the public port.
	for _, p := range []string{"/_gnr/admin", "/status"} {
		if code, _ := get(t, h.URL(p)); code != http.StatusNotFound {
			t.Errorf("public %s = %d, want 404", p, code)
		}
	}

	code, out, errOut := gnrhostCmd(t, "swap", "--admin", socket, second)
	if code != 0 || !strings.Contains(out, "swap: first -> second") {
		t.Fatalf("swap: %d %s %s", code, out, errOut)
	}
	if st := statusOf(t, socket); st.Set.Name != "second" || st.Previous == nil || st.Previous.Name != "first" {
		t.Errorf("status after swap: set %q previous %+v", st.Set.Name, st.Previous)
	}

	// Refusals: an invalid file (caught by the command, with its position) and a set whose
	// legacy site cannot start (caught by the host). The running set keeps serving.
	code, _, errOut = gnrhostCmd(t, "swap", "--admin", socket, invalid)
	if code != 1 || !strings.Contains(errOut, "invalid.yaml:3:1") {
		t.Errorf("swap invalid: %d %s", code, errOut)
	}
	code, _, errOut = gnrhostCmd(t, "swap", "--admin", socket, broken)
	if code != 1 || !strings.Contains(errOut, "ModuleNotFoundError") || !strings.Contains(errOut, "keeps serving") {
		t.Errorf("swap broken: %d %s", code, errOut)
	}
	if code, _ := get(t, h.URL("/readyz")); code != 200 {
		t.Errorf("/readyz after refused swaps = %d", code)
	}

	code, out, errOut = gnrhostCmd(t, "rollback", "--admin", socket)
	if code != 0 || !strings.Contains(out, "rollback: second -> first") {
		t.Fatalf("rollback: %d %s %s", code, out, errOut)
	}
	// SIGHUP re-reads the running file.
	h.Signal(t, syscall.SIGHUP)
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := statusOf(t, socket)
		last := st.Swaps[len(st.Swaps)-1]
		if last.Kind == admin.KindReload && last.Result == admin.ResultOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no reload after SIGHUP: %+v", st.Swaps)
		}
		time.Sleep(50 * time.Millisecond)
	}
	st := statusOf(t, socket)
	var kinds []string
	for _, s := range st.Swaps {
		kinds = append(kinds, s.Kind+":"+s.Result)
	}
	if got := strings.Join(kinds, " "); got != "swap:ok swap:failed rollback:ok reload:ok" {
		t.Errorf("history = %s (the command-side refusal of the invalid file never reaches the host)", got)
	}
	code, out, _ = gnrhostCmd(t, "status", "--admin", socket)
	if code != 0 || !strings.Contains(out, "set:         first") || !strings.Contains(out, "registry  registry-mem") {
		t.Errorf("status text: %d\n%s", code, out)
	}
	// The host's memory, after a collection: the figure compared across swaps.
	code, out, _ = gnrhostCmd(t, "memory", "--admin", socket, "--gc")
	if code != 0 || !strings.Contains(out, "(after a full collection)") || !regexp.MustCompile(`goroutines: +[1-9]`).MatchString(out) {
		t.Errorf("memory text: %d\n%s", code, out)
	}
	if code, _, errOut := gnrhostCmd(t, "memory", "--admin", socket, "extra"); code != exitUsage || !strings.Contains(errOut, "unexpected argument") {
		t.Errorf("memory with an argument: %d %s", code, errOut)
	}
	h.Signal(t, syscall.SIGTERM)
	if code := h.Wait(t, 15*time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if _, err := os.Stat(socket); !os.IsNotExist(err) {
		t.Errorf("admin socket left behind: %v", err)
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestAdminTCPNeedsToken(t *testing.T) {
	dir := t.TempDir()
	addr := freePort(t)
	const token = "admin-token-0123456789"
	t.Setenv("GNRHOST_TEST_ADMIN_TOKEN", token)
	set := writeSet(t, dir, "tcp", fmt.Sprintf("registry: {plugin: registry-mem}\nadmin: {socket: %s, listen: %q, token_env: GNRHOST_TEST_ADMIN_TOKEN}\n",
		filepath.Join(dir, "a.sock"), addr))
	testpeer.StartHost(t, "--plugins", set)

	for _, auth := range []string{"", "Bearer wrong-token-0123456789"} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/status", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("status with auth %q = %d, want 401", auth, resp.StatusCode)
		}
	}
	code, out, errOut := gnrhostCmd(t, "status", "--admin-url", "http://"+addr, "--token-env", "GNRHOST_TEST_ADMIN_TOKEN")
	if code != 0 || !strings.Contains(out, "set:         tcp") {
		t.Errorf("status over TCP with the token: %d %s %s", code, out, errOut)
	}
	// The admin page shows a login form without the token.
	resp, err := http.Get("http://" + addr + "/_gnr/admin")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("admin page without token = %d, want 401 (login form)", resp.StatusCode)
	}
}

// TestAutoRollback: a swapped-in set whose plugin dies within the grace period is rolled
// back by itself, and status says so.
func TestAutoRollback(t *testing.T) {
	dir := t.TempDir()
	socket := filepath.Join(dir, "admin.sock")
	stable := writeSet(t, dir, "stable", "registry: {plugin: registry-mem}\nadmin: {socket: "+socket+"}\n")
	fragile := writeSet(t, dir, "fragile", "registry: {plugin: registry-mem, mode: process, restart: {initial: 5s, max: 5s}}\n"+
		"admin: {rollback_grace: 4s}\nhealth: {interval: 200ms}\n")
	h := testpeer.StartHost(t, "--plugins", stable)
	if code, out, errOut := gnrhostCmd(t, "swap", "--admin", socket, fragile); code != 0 {
		t.Fatalf("swap: %d %s %s", code, out, errOut)
	}
	st := statusOf(t, socket)
	if len(st.Plugins) != 1 || st.Plugins[0].PID == 0 {
		t.Fatalf("plugins = %+v", st.Plugins)
	}
	if err := syscall.Kill(st.Plugins[0].PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		st = statusOf(t, socket)
		if st.Set.Name == "stable" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no automatic rollback; status %+v\nlogs:\n%s", st, h.Logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := len(st.Swaps); n != 2 || st.Swaps[0].Result != admin.ResultRolledBack || st.Swaps[1].Kind != admin.KindAutoRollback ||
		!strings.Contains(st.Swaps[0].Error, "grace period") {
		t.Errorf("history = %+v", st.Swaps)
	}
	if code, _ := get(t, h.URL("/readyz")); code != 200 {
		t.Errorf("/readyz after the automatic rollback = %d", code)
	}
}

// TestServeReload: with --reload, editing the set file swaps to it; an edit that does
// not validate is refused and the running set keeps serving; replacing one of its page
// modules swaps too.
func TestServeReload(t *testing.T) {
	dir := t.TempDir()
	socket := filepath.Join(dir, "admin.sock")
	file := filepath.Join(dir, "dev.yaml")
	write := func(name, extra string) {
		t.Helper()
		if err := os.WriteFile(file, []byte("name: "+name+"\nregistry: {plugin: registry-mem}\nadmin: {socket: "+socket+"}\n"+extra), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("first", "")
	h := testpeer.StartHost(t, "--reload", "--plugins", file)
	waitSet := func(name string, swaps int) admin.Status {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			st := statusOf(t, socket)
			if st.Set.Name == name && len(st.Swaps) == swaps {
				return st
			}
			if time.Now().After(deadline) {
				t.Fatalf("set %q after %d swaps not reached: %+v", name, swaps, st)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	write("second", "")
	waitSet("second", 1)
	write("broken", "bogus: 1\n")
	st := waitSet("second", 2)
	if last := st.Swaps[1]; last.Result != admin.ResultFailed || !strings.Contains(last.Error, "bogus") {
		t.Errorf("the invalid edit: %+v", last)
	}
	if code, _ := get(t, h.URL("/readyz")); code != 200 {
		t.Errorf("/readyz after a refused reload = %d", code)
	}
	write("third", "")
	waitSet("third", 3)
	// A page module the set loads is watched too: replacing it swaps to the same file,
	// and the route serves the new module.
	root := testpeer.ModuleRoot(t)
	module := filepath.Join(dir, "page.wasm")
	copyFile := func(from string) {
		t.Helper()
		raw, err := os.ReadFile(filepath.Join(root, "examples", "pages", from))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(module, raw, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	copyFile("counter/wat/counter.wasm")
	write("fourth", "pages:\n  - {route: /page, module: page.wasm}\n")
	waitSet("fourth", 4)
	if _, body := get(t, h.URL("/page")); strings.Contains(body, "New item") {
		t.Fatalf("the counter module serves the todo page: %s", body)
	}
	copyFile("todo/wat/todo.wasm")
	waitSet("fourth", 5)
	if code, body := get(t, h.URL("/page")); code != 200 || !strings.Contains(body, "New item") {
		t.Errorf("after the module changed, /page = %d %s; want the todo page", code, body)
	}
}
