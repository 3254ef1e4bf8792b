package main

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gnrhost/gnrhost/host/session"
	"github.com/gnrhost/gnrhost/internal/testpeer"
)

// nginxSite is examples/deploy/nginx.conf (the recipe in docs/deploy.md) with its
// addresses replaced by the test's: what is tested is the file people copy.
func nginxSite(t *testing.T, hosts []*testpeer.Host) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(testpeer.ModuleRoot(t), "examples/deploy/nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	site := strings.Replace(string(raw), "listen 127.0.0.1:8080;", "listen LISTEN;", 1)
	for i, h := range hosts {
		from := fmt.Sprintf("127.0.0.1:%d", 8081+i)
		if !strings.Contains(site, from) {
			t.Fatalf("examples/deploy/nginx.conf has no server %s", from)
		}
		site = strings.ReplaceAll(site, from, h.Addr)
	}
	return site
}

// mustLoad opens a page through u and returns its id.
func mustLoad(t *testing.T, u *balancedUser, route string) string {
	t.Helper()
	code, _, id, err := u.get(route)
	if err != nil || code != 200 || id == "" {
		t.Fatalf("GET %s: %d %v", route, code, err)
	}
	return id
}

// mustRPC calls a page through u as client.js does and returns the status and body.
func mustRPC(t *testing.T, u *balancedUser, pageID, method, params string) (int, string) {
	t.Helper()
	resp, body, err := u.rpc(pageID, method, params)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func processOf(t *testing.T, pageID string) int {
	t.Helper()
	p, ok := session.ProcessOf(pageID)
	if !ok {
		t.Fatalf("page id %q has no process suffix", pageID)
	}
	return int(p)
}

// TestNginxRecipe: three host processes behind a real nginx running
// examples/deploy/nginx.conf, with Debian's nats-server between them as in
// docs/deploy.md. Every user stays on one process once it has its cookie; a
// page's RPCs reach the page's process even when that is not the user's; the users
// spread over all processes; an item added on one process reaches a WebSocket, opened
// through nginx, on another.
func TestNginxRecipe(t *testing.T) {
	set := natsIPCSet(t, testpeer.NATSServer(t))
	var hosts []*testpeer.Host
	for i := 1; i <= 3; i++ {
		hosts = append(hosts, testpeer.StartHost(t, "--plugins", set, "--process", fmt.Sprint(i)))
	}
	ngx := testpeer.StartNginx(t, nginxSite(t, hosts))
	base := "http://" + ngx.Addr

	const users, loads = 45, 3
	perProcess := map[int]int{}
	byProcess := map[int]*balancedUser{}
	for i := range users {
		u := newBalancedUser(base)
		first := mustLoad(t, u, "/counter/wat")
		home := 0
		for range loads {
			page := mustLoad(t, u, "/counter/wat")
			if p := processOf(t, page); home == 0 {
				home = p
			} else if p != home {
				t.Fatalf("user %d moved from process %d to %d (page %s)", i, home, p, page)
			}
		}
		perProcess[home]++
		byProcess[home] = u
		// The first page may have been made before the user had a cookie, by another
		// process; its RPC must still reach it.
		if code, body := mustRPC(t, u, first, "increment", `{}`); code != 200 {
			t.Fatalf("user %d: RPC to its first page %s: %d %s", i, first, code, body)
		}
	}
	t.Logf("users per process: %v", perProcess)
	if len(perProcess) != 3 {
		t.Fatalf("users per process %v: want all three used", perProcess)
	}

	alice, bob := byProcess[1], byProcess[2]
	alicePage, bobPage := mustLoad(t, alice, "/todo/wat"), mustLoad(t, bob, "/todo/wat")
	if processOf(t, alicePage) != 1 || processOf(t, bobPage) != 2 {
		t.Fatalf("todo pages %s, %s: want them on the users' processes 1 and 2", alicePage, bobPage)
	}
	u, _ := url.Parse(base)
	sock := dialPage(t, ngx.Addr, url.QueryEscape(bobPage), bob.http.Jar.Cookies(u))
	if code, body := mustRPC(t, alice, alicePage, "add", `{"text":"through nginx"}`); code != 200 {
		t.Fatalf("alice adds: %d %s", code, body)
	}
	for {
		push := sock.nextPush(t, 10*time.Second)
		if strings.Contains(fmt.Sprint(push["items"]), "through nginx") {
			break
		}
	}
}

// natsIPCSet writes a set for several host processes on one external NATS server, as in
// docs/deploy.md: each process its own registry-mem, the global register and the events
// on NATS.
func natsIPCSet(t *testing.T, natsURL string) string {
	t.Helper()
	t.Setenv("GNRHOST_TEST_SECRET", phase0Secret+"-shared-by-processes")
	root := testpeer.ModuleRoot(t)
	yml := fmt.Sprintf(`name: deploy
registry: {plugin: registry-mem}
ipc: {backend: nats, url: %q}
session: {secret_env: GNRHOST_TEST_SECRET}
pages:
  - {route: /todo/wat, module: %s, lifecycle: resident}
  - {route: /counter/wat, module: %s, lifecycle: resident}
`, natsURL, filepath.Join(root, "examples/pages/todo/wat/todo.wasm"), filepath.Join(root, "examples/pages/counter/wat/counter.wasm"))
	path := filepath.Join(t.TempDir(), "deploy.yaml")
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
