package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gnrhost/gnrhost/host/pluginset"
	"github.com/gnrhost/gnrhost/internal/testpeer"
)

// pageIDOf reads the page id the host put in the tab's document.
func pageIDOf(t *testing.T, tab context.Context) string {
	t.Helper()
	return testpeer.Eval[string](t, tab, "page id", `document.querySelector('meta[name="gnr-page-id"]').content`)
}

// TestPhase7Acceptance runs examples/phase7.yaml as documented, `serve --local-balancer
// --max-processes 3` (NATS embedded in the balancer), with a headless Chromium user on
// each process:
//   - an item one user adds reaches the other two, on the other processes, by push;
//   - kill -9 of a process: it is restarted; its user's todo page (persist: true) comes
//     back with its state on the same document and keeps getting pushes, while its
//     counter page (not persist) reloads;
//   - a user's cookie never reaches another user's page, even routed to its process.
func TestPhase7Acceptance(t *testing.T) {
	h := testpeer.StartHost(t, "--plugins", exampleSet(t, "phase7", nil, ""), "--local-balancer",
		"--max-processes", "3", "--restart-backoff", "200ms")
	base := "http://" + h.Addr
	browser := testpeer.Chromium(t)

	// First visits go to any process and the guest stays where it landed: open users
	// until every process has one.
	tabs := map[int]context.Context{}
	for i := 0; len(tabs) < 3; i++ {
		if i == 12 {
			t.Fatalf("12 users landed on processes %v only", tabs)
		}
		tab := testpeer.Browser(t, browser)
		testpeer.Run(t, tab, "open todo", chromedp.Navigate(base+"/todo/wat"))
		testpeer.WaitJS(t, tab, "socket open", `window.gnr && gnr.connected`, 10*time.Second)
		if p := processOf(t, pageIDOf(t, tab)); tabs[p] == nil {
			tabs[p] = tab
		}
	}

	snapshotsBefore := snapshotsSaved(t, processState(t, h.Addr, 2).Addr)
	testpeer.TodoAdd(t, tabs[1], "milk from p01")
	for _, p := range []int{2, 3} {
		took := testpeer.WaitJS(t, tabs[p], fmt.Sprintf("milk reaches process %d's user", p), testpeer.TodoHas("milk from p01"), 5*time.Second)
		t.Logf("push to process %d's browser after %s", p, took)
	}

	// Process 2's user also has a counter page (resident, not persist) in a second tab.
	bob := tabs[2]
	bobTodo := pageIDOf(t, bob)
	counterTab, cancelCounter := chromedp.NewContext(bob)
	defer cancelCounter()
	// The tab lives as long as the context of its first run: make it with counterTab.
	if err := chromedp.Do(counterTab); err != nil {
		t.Fatalf("open a second tab: %v", err)
	}
	testpeer.Run(t, counterTab, "open counter", chromedp.Navigate(base+"/counter/wat"))
	testpeer.WaitJS(t, counterTab, "counter socket open", `window.gnr && gnr.connected`, 10*time.Second)
	bobCounter := pageIDOf(t, counterTab)
	if processOf(t, bobCounter) != 2 {
		t.Fatalf("bob's counter page %s is not on his process 2", bobCounter)
	}
	for _, tab := range []context.Context{bob, counterTab} {
		testpeer.Eval[bool](t, tab, "mark the document", `(window.__sameDocument = true)`)
	}
	// The todo page's snapshot with milk (debounced) must be in the store before the kill.
	waitFor(t, "process 2 saves the todo page's snapshot", 10*time.Second, func() bool {
		return snapshotsSaved(t, processState(t, h.Addr, 2).Addr) > snapshotsBefore
	})

	before := processState(t, h.Addr, 2)
	if err := syscall.Kill(before.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// The counter page died with its process: its tab reloads into a new page.
	testpeer.WaitJS(t, counterTab, "counter reloads", `window.__sameDocument !== true && window.gnr && gnr.connected`, 30*time.Second)
	if id := pageIDOf(t, counterTab); id == bobCounter {
		t.Errorf("the counter page %s came back after its process died; it is not persist", id)
	}
	// The todo page resumes on the same document and keeps getting pushes.
	testpeer.WaitJS(t, bob, "todo resumes", `window.__sameDocument === true && gnr.connected && gnr.stats.connects >= 2`, 30*time.Second)
	if id := pageIDOf(t, bob); id != bobTodo {
		t.Fatalf("bob's todo page is now %s, was %s", id, bobTodo)
	}
	after := processState(t, h.Addr, 2)
	if after.PID == before.PID || after.Restarts < 1 {
		t.Errorf("process 2 after the kill: %+v (before %+v)", after, before)
	}
	testpeer.TodoAdd(t, tabs[3], "bread from p03")
	testpeer.WaitJS(t, bob, "bread reaches the resumed page", testpeer.TodoHas("bread from p03")+` && `+testpeer.TodoHas("milk from p01"), 5*time.Second)
	testpeer.WaitJS(t, bob, "same document", `window.__sameDocument === true`, time.Second)

	// Another user, routed to bob's process by the page id, is refused bob's page.
	mallory := newBalancedUser(base)
	mustLoad(t, mallory, "/counter/wat")
	if mallory.cookie(pluginset.DefaultSessionCookie) == "" {
		t.Fatal("mallory has no connection cookie")
	}
	if code, body := mustRPC(t, mallory, bobTodo, "list", `{}`); code != http.StatusForbidden && code != http.StatusNotFound {
		t.Errorf("another user's RPC to bob's page: %d %s", code, body)
	} else if strings.Contains(body, "milk") {
		t.Errorf("another user read bob's page: %s", body)
	}
}

// snapshotsSaved reads a host process's count of persist-page snapshots written, from
// its own /metrics (straight to its address, not through the balancer).
func snapshotsSaved(t *testing.T, addr string) float64 {
	t.Helper()
	v, _ := metricValue(t, "http://"+addr, `gnrhost_page_snapshots_total{result="ok"}`)
	return v
}

// waitFor polls cond every 20 ms until it holds, failing t after timeout.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
