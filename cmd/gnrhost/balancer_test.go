package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gnrhost/gnrhost/host/admin"
	"github.com/gnrhost/gnrhost/host/balancer"
	"github.com/gnrhost/gnrhost/host/session"
	"github.com/gnrhost/gnrhost/internal/testpeer"
)

// balancedSet writes a set serving the WAT counter and todo examples, resident.
func balancedSet(t *testing.T) string { return balancedSetNamed(t, "balanced") }

func balancedSetNamed(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	root := testpeer.ModuleRoot(t)
	yml := fmt.Sprintf(`name: `+name+`
registry: {plugin: registry-mem}
wasm: {cache_dir: %s}
pages:
  - {route: /counter, module: %s, lifecycle: resident}
  - {route: /todo, module: %s, lifecycle: resident}
`, filepath.Join(dir, "cache"), filepath.Join(root, "examples/pages/counter/wat/counter.wasm"),
		filepath.Join(root, "examples/pages/todo/wat/todo.wasm"))
	path := filepath.Join(dir, name+".yaml")
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// balancedUser is one browser behind the balancer: its own cookie jar.
type balancedUser struct {
	base     string
	http     *http.Client
	routeKey string // the route cookie's value
	pageID   string // its counter page
	process  string // the process that answered its requests since it had a cookie
}

func newBalancedUser(base string) *balancedUser {
	jar, _ := cookiejar.New(nil)
	return &balancedUser{base: base, http: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

// get does GET path and returns status, X-Gnr-Process and X-Gnr-Page-Id.
func (u *balancedUser) get(path string) (int, string, string, error) {
	resp, err := u.http.Get(u.base + path)
	if err != nil {
		return 0, "", "", err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get(balancer.ProcessHeader), resp.Header.Get(balancer.PageIDHeader), nil
}

// rpc calls method on page as client.js does (the page id in the header too).
func (u *balancedUser) rpc(page, method, params string) (*http.Response, []byte, error) {
	body := fmt.Sprintf(`{"page_id":%q,"method":%q,"params":%s}`, page, method, params)
	req, _ := http.NewRequest(http.MethodPost, u.base+"/_gnr/rpc", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(balancer.PageIDHeader, page)
	resp, err := u.http.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp, raw, err
}

func (u *balancedUser) cookie(name string) string {
	base, _ := url.Parse(u.base + "/")
	for _, c := range u.http.Jar.Cookies(base) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// forEach runs fn for every user on a few goroutines and fails the test on the first error.
func forEach(t *testing.T, users []*balancedUser, fn func(*balancedUser) error) {
	t.Helper()
	const workers = 12
	work := make(chan *balancedUser)
	errs := make(chan error, len(users))
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for u := range work {
				if err := fn(u); err != nil {
					errs <- err
				}
			}
		})
	}
	for _, u := range users {
		work <- u
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func balancerStatus(t *testing.T, addr string) admin.Status {
	t.Helper()
	code, out, errOut := runCLI("status", "--listen", addr, "--json")
	if code != exitOK {
		t.Fatalf("status: exit %d: %s", code, errOut)
	}
	var st admin.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status JSON: %v\n%s", err, out)
	}
	return st
}

func processState(t *testing.T, addr string, n int) admin.ProcessStatus {
	t.Helper()
	for _, p := range balancerStatus(t, addr).Processes {
		if p.Number == n {
			return p
		}
	}
	t.Fatalf("no process %d in the balancer's status", n)
	return admin.ProcessStatus{}
}

// TestLocalBalancer runs `serve --local-balancer --max-processes 3` for real: 300 users
// each stay on the process their route cookie hashes to, page ids name their process,
// `gnrhost scale 4` moves about a quarter of them, a killed process answers 503 at once
// and serves again after its restart, WebSockets go through, and SIGTERM stops it all.
func TestLocalBalancer(t *testing.T) {
	// The secret every process signs with; the balancer passes it on (without it, it
	// would make one up).
	const sharedSecret = "a test secret of more than sixteen bytes"
	t.Setenv(session.EnvSecret, sharedSecret)
	h := testpeer.StartHost(t, "--plugins", balancedSet(t), "--local-balancer", "--max-processes", "3",
		"--restart-backoff", "1s")
	const cookieName = "gnrhost_conn"
	routeCookie := session.RouteCookie(cookieName)
	st := balancerStatus(t, h.Addr)
	if len(st.Processes) != 3 {
		t.Fatalf("status shows %d processes, want 3: %+v", len(st.Processes), st.Processes)
	}
	var childPIDs []int
	for _, p := range st.Processes {
		if p.State != "ready" || !p.InRing || p.PID == 0 || !strings.HasPrefix(p.Addr, "127.0.0.1:") {
			t.Fatalf("process %+v: want ready, in the ring, with a pid and a loopback address", p)
		}
		childPIDs = append(childPIDs, p.PID)
	}

	// 300 signed-in users, with the cookies a login would have set (signed with the
	// secret the balancer shares with its processes): their names are fixed, so the share
	// a scale moves is the same on every run. The processes adopt their connections.
	const nUsers = 300
	signer, err := session.NewSigner(cookieName, []byte(sharedSecret))
	if err != nil {
		t.Fatal(err)
	}
	users := make([]*balancedUser, nUsers)
	for i := range users {
		u := newBalancedUser(h.URL(""))
		id := session.Identity{ConnectionID: session.NewID(), User: fmt.Sprintf("user-%03d", i)}
		base, _ := url.Parse(h.URL("/"))
		u.http.Jar.SetCookies(base, []*http.Cookie{
			{Name: cookieName, Value: signer.Encode(id)},
			{Name: routeCookie, Value: session.RouteKey(id)},
		})
		users[i] = u
	}
	// And 30 guests: a first visit has no cookie and goes to any process, which mints a
	// guest whose route key hashes back to itself (the ring travels in X-Gnr-Ring), so
	// the guest stays there from its first request on.
	ring3 := balancer.NewRing(1, 2, 3)
	guests := make([]*balancedUser, 30)
	for i := range guests {
		guests[i] = newBalancedUser(h.URL(""))
	}
	forEach(t, guests, func(u *balancedUser) error {
		code, proc, _, err := u.get("/counter")
		if err != nil || code != 200 {
			return fmt.Errorf("first visit: %d %v", code, err)
		}
		key := u.cookie(routeCookie)
		if key == "" || u.cookie(cookieName) == "" {
			return fmt.Errorf("first visit set no connection or route cookie")
		}
		if owner, _ := ring3.Pick(key); fmt.Sprintf("%02d", owner) != proc {
			return fmt.Errorf("guest %s minted by process %s, owned by %02d", key, proc, owner)
		}
		return nil
	})
	forEach(t, append(users, guests...), func(u *balancedUser) error {
		u.routeKey = u.cookie(routeCookie)
		want, _ := ring3.Pick(u.routeKey)
		u.process = fmt.Sprintf("%02d", want)
		for range 2 {
			code, proc, page, err := u.get("/counter")
			if err != nil || code != 200 {
				return fmt.Errorf("page load: %d %v", code, err)
			}
			if proc != u.process {
				return fmt.Errorf("user %s: page load answered by process %s, want %s", u.routeKey, proc, u.process)
			}
			if p, ok := session.ProcessOf(page); !ok || fmt.Sprintf("%02d", int(p)) != proc {
				return fmt.Errorf("page id %q made by process %s", page, proc)
			}
			u.pageID = page
		}
		for i := range 3 {
			resp, raw, err := u.rpc(u.pageID, "increment", "{}")
			if err != nil || resp.StatusCode != 200 {
				return fmt.Errorf("rpc: %v %v %s", err, resp, raw)
			}
			if got := resp.Header.Get(balancer.ProcessHeader); got != u.process {
				return fmt.Errorf("user %s: rpc answered by %s, want %s", u.routeKey, got, u.process)
			}
			if !strings.Contains(string(raw), fmt.Sprintf(`"count":%d`, i+1)) {
				return fmt.Errorf("rpc %d on a resident page: %s", i+1, raw)
			}
		}
		if got := u.cookie(routeCookie); got != u.routeKey {
			return fmt.Errorf("route cookie changed from %q to %q", u.routeKey, got)
		}
		return nil
	})
	perProcess := map[string]int{}
	for _, u := range users {
		perProcess[u.process]++
	}
	t.Logf("users per process with 3 processes: %v", perProcess)
	for _, p := range []string{"01", "02", "03"} {
		if perProcess[p] < nUsers/6 {
			t.Errorf("process %s has %d of %d users; the hash is lopsided", p, perProcess[p], nUsers)
		}
	}

	t.Run("the balancer enforces the set's header limit", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, h.URL("/counter"), nil)
		req.Header.Set("X-Big", strings.Repeat("x", 2<<20))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || resp.Header.Get(balancer.ProcessHeader) != "" {
			t.Errorf("2 MB of headers: %d from process %q, want 431 from the balancer itself", resp.StatusCode, resp.Header.Get(balancer.ProcessHeader))
		}
	})

	t.Run("scale to 4 moves about a quarter of the users", func(t *testing.T) {
		code, out, errOut := runCLI("scale", "--listen", h.Addr, "4")
		if code != exitOK {
			t.Fatalf("scale 4: exit %d: %s%s", code, out, errOut)
		}
		ring4 := balancer.NewRing(1, 2, 3, 4)
		var mu sync.Mutex
		moved := 0
		forEach(t, users, func(u *balancedUser) error {
			code, proc, _, err := u.get("/counter")
			if err != nil || code != 200 {
				return fmt.Errorf("page load after scale: %d %v", code, err)
			}
			want, _ := ring4.Pick(u.routeKey)
			if proc != fmt.Sprintf("%02d", want) {
				return fmt.Errorf("user %s on process %s after scale, the ring says %02d", u.routeKey, proc, want)
			}
			if proc != u.process {
				if proc != "04" {
					return fmt.Errorf("user %s moved from %s to %s, not to the new process", u.routeKey, u.process, proc)
				}
				mu.Lock()
				moved++
				mu.Unlock()
			}
			// The page made before the scale still lives on its process: its suffix wins.
			resp, raw, err := u.rpc(u.pageID, "get", "{}")
			if err != nil || resp.StatusCode != 200 || resp.Header.Get(balancer.ProcessHeader) != u.process {
				return fmt.Errorf("old page %s after scale: %v %v %s", u.pageID, err, resp, raw)
			}
			u.process = proc
			return nil
		})
		share := float64(moved) / nUsers
		t.Logf("scale 3 -> 4 moved %d of %d users (%.3f)", moved, nUsers, share)
		if share < 0.20 || share > 0.30 {
			t.Errorf("moved share %.3f, want 0.20..0.30", share)
		}
		if p := processState(t, h.Addr, 4); p.State != "ready" || !p.InRing {
			t.Errorf("process 4 after scale: %+v", p)
		}
	})

	t.Run("websocket through the balancer", func(t *testing.T) {
		u := users[0]
		_, watchProc, watchPage, err := u.get("/todo")
		if err != nil || watchPage == "" {
			t.Fatalf("todo page: %v", err)
		}
		_, addProc, addPage, err := u.get("/todo")
		if err != nil || addPage == "" || addProc != watchProc {
			t.Fatalf("second todo page on %s, first on %s: %v", addProc, watchProc, err)
		}
		base, _ := url.Parse(h.URL("/"))
		watcher := dialPage(t, h.Addr, watchPage, u.http.Jar.Cookies(base))
		resp, raw, err := u.rpc(addPage, "add", `{"text":"through the balancer"}`)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("add: %v %v %s", err, resp, raw)
		}
		push := watcher.nextPush(t, 10*time.Second)
		if !strings.Contains(fmt.Sprint(push["items"]), "through the balancer") {
			t.Errorf("push %v lacks the item", push)
		}
	})

	// The set every process runs, asked from its own admin socket.
	processSets := func(t *testing.T) map[int]string {
		t.Helper()
		sets := map[int]string{}
		for _, p := range balancerStatus(t, h.Addr).Processes {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			st, err := admin.NewClient(admin.DefaultSocket(p.Addr), "").Status(ctx)
			cancel()
			if err != nil {
				t.Fatalf("status of process %d: %v", p.Number, err)
			}
			sets[p.Number] = st.Set.Name
		}
		return sets
	}
	// Made by the parent test: processes restarted in later subtests read it.
	secondSet := balancedSetNamed(t, "balanced2")
	t.Run("swap through the balancer swaps every process", func(t *testing.T) {
		code, out, errOut := runCLI("swap", "--listen", h.Addr, secondSet)
		if code != exitOK {
			t.Fatalf("swap: exit %d: %s%s", code, out, errOut)
		}
		t.Logf("swap: %s", out)
		for n, name := range processSets(t) {
			if name != "balanced2" {
				t.Errorf("process %d runs %q after the swap", n, name)
			}
		}
		if st := balancerStatus(t, h.Addr); st.Set.Name != "balanced2" || st.Previous == nil || st.Previous.Name != "balanced" {
			t.Errorf("balancer status after swap: set %+v previous %+v", st.Set, st.Previous)
		}
		// A swap the processes refuse (the file is valid, its module is not WASM) changes
		// nothing anywhere.
		dir := t.TempDir()
		module := filepath.Join(dir, "broken.wasm")
		bad := filepath.Join(dir, "bad.yaml")
		if err := os.WriteFile(module, []byte("not wasm"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bad, []byte("registry: {plugin: registry-mem}\npages:\n  - {route: /x, module: "+module+"}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		code, _, errOut = runCLI("swap", "--listen", h.Addr, bad)
		if code != exitFail || !strings.Contains(errOut, "refused: process 01") {
			t.Errorf("swap to a set the processes cannot run: exit %d, %s", code, errOut)
		}
		for n, name := range processSets(t) {
			if name != "balanced2" {
				t.Errorf("process %d runs %q after a refused swap", n, name)
			}
		}
	})

	t.Run("a killed process answers 503 at once, then serves after its restart", func(t *testing.T) {
		var victim *balancedUser
		for _, u := range users {
			if u.process == "02" {
				victim = u
				break
			}
		}
		if victim == nil {
			t.Fatal("no user on process 02")
		}
		before := processState(t, h.Addr, 2)
		if err := syscall.Kill(before.PID, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		// The balancer learns of the death from the process's exit; wait for that.
		deadline := time.Now().Add(5 * time.Second)
		for processState(t, h.Addr, 2).State == "ready" {
			if time.Now().After(deadline) {
				t.Fatal("the balancer still thinks process 02 is ready 5s after kill -9")
			}
			time.Sleep(5 * time.Millisecond)
		}
		start := time.Now()
		resp, raw, err := victim.rpc(victim.pageID, "get", "{}")
		took := time.Since(start)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("request to the dead process: %d in %s: %s", resp.StatusCode, took, raw)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
			!strings.Contains(string(raw), `"error"`) {
			t.Errorf("got %d (Retry-After %q) %s, want 503 with Retry-After and a JSON error", resp.StatusCode, resp.Header.Get("Retry-After"), raw)
		}
		if took > time.Second {
			t.Errorf("503 took %s, want it at once", took)
		}
		// A cookie-routed request of the same user also waits for the restart, then works;
		// the restarted process adopts the user's signed connection.
		deadline = time.Now().Add(60 * time.Second)
		for {
			code, proc, _, err := victim.get("/counter")
			if err == nil && code == 200 {
				if proc != "02" {
					t.Errorf("after the restart the user is on %s, want 02", proc)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("process 02 did not serve again within 60s (last: %d %v)", code, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		after := processState(t, h.Addr, 2)
		if after.Restarts < 1 || after.PID == before.PID || after.Addr != before.Addr {
			t.Errorf("after restart %+v, before %+v: want a restart, a new pid, the same address", after, before)
		}
		if victim.cookie(routeCookie) != victim.routeKey {
			t.Errorf("route cookie changed across the restart: %q -> %q", victim.routeKey, victim.cookie(routeCookie))
		}
	})

	t.Run("a restarted process runs the swapped set; rollback swaps every process back", func(t *testing.T) {
		if sets := processSets(t); sets[2] != "balanced2" {
			t.Errorf("restarted process 2 runs %q, want the set swapped to before its crash", sets[2])
		}
		code, out, errOut := runCLI("rollback", "--listen", h.Addr)
		if code != exitOK {
			t.Fatalf("rollback: exit %d: %s%s", code, out, errOut)
		}
		for n, name := range processSets(t) {
			if name != "balanced" {
				t.Errorf("process %d runs %q after the rollback", n, name)
			}
		}
	})

	t.Run("SIGHUP reloads the set in every process", func(t *testing.T) {
		h.Signal(t, syscall.SIGHUP)
		h.WaitLog(t, "signal passed on to the host processes", 10*time.Second)
		for _, p := range balancerStatus(t, h.Addr).Processes {
			h.WaitLog(t, fmt.Sprintf("msg=\"SIGHUP: reloading the plugin set\" process=%d", p.Number), 30*time.Second)
		}
		if !h.Running() {
			t.Fatal("SIGHUP ended the balancer")
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			resp, err := http.Get(h.URL("/readyz"))
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("not ready again 30s after SIGHUP: %v %v", err, resp)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	t.Run("SIGTERM stops the balancer and every process", func(t *testing.T) {
		for _, p := range balancerStatus(t, h.Addr).Processes {
			childPIDs = append(childPIDs, p.PID)
		}
		h.Signal(t, syscall.SIGTERM)
		if code := h.Wait(t, 60*time.Second); code != 0 {
			t.Errorf("exit code %d after SIGTERM", code)
		}
		for _, pid := range childPIDs {
			if !testpeer.WaitGone(pid, 10*time.Second) {
				t.Errorf("host process %d outlived the balancer", pid)
			}
		}
	})
}

func TestLocalBalancerUsageErrors(t *testing.T) {
	set := balancedSet(t)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--local-balancer"}, "--local-balancer needs --plugins FILE"},
		{[]string{"serve", "--plugins", set, "--local-balancer", "--max-processes", "0"}, "--max-processes 0 out of range; expected 1 to 99"},
		{[]string{"serve", "--plugins", set, "--local-balancer", "--max-processes", "100"}, "--max-processes 100 out of range; expected 1 to 99"},
		{[]string{"serve", "--plugins", set, "--max-processes", "3"}, "--max-processes needs --local-balancer"},
		{[]string{"serve", "--plugins", set, "--local-balancer", "--process", "2"}, "drop --process"},
		{[]string{"scale", "0"}, "expected a number of processes from 1 to 99"},
		{[]string{"scale"}, "want exactly one number"},
	}
	for _, c := range cases {
		code, _, errOut := runCLI(c.args...)
		if code != exitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d with %q", c.args, code, errOut, exitUsage, c.want)
		}
	}
	// --listen-fd is gnrhost's own business: not in the help.
	_, out, _ := runCLI("serve", "--help")
	if strings.Contains(out, "listen-fd") || !strings.Contains(out, "local-balancer") {
		t.Errorf("serve --help:\n%s", out)
	}
}

// A set its processes cannot run (here a module that is not WASM) stops the balancer
// with the processes' error, instead of restarting them until the ready timeout.
func TestLocalBalancerFailsWhenProcessesCannotStart(t *testing.T) {
	dir := t.TempDir()
	module := filepath.Join(dir, "broken.wasm")
	if err := os.WriteFile(module, []byte("not wasm"), 0o600); err != nil {
		t.Fatal(err)
	}
	set := filepath.Join(dir, "broken.yaml")
	yml := fmt.Sprintf("registry: {plugin: registry-mem}\npages:\n  - {route: /broken, module: %s}\n", module)
	if err := os.WriteFile(set, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(testpeer.Gnrhost(t), "serve", "--plugins", set, "--listen", "127.0.0.1:0",
		"--local-balancer", "--max-processes", "2", "--restart-backoff", "10ms")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != exitFail {
		t.Fatalf("exit %v, want %d; output:\n%s", err, exitFail, out)
	}
	if !strings.Contains(string(out), "before it was ever ready") {
		t.Errorf("output lacks the reason:\n%s", out)
	}
	t.Logf("failed in %s", time.Since(start))
}
