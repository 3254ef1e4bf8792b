package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws/wsutil"

	"github.com/gnrhost/gnrhost/host/admin"
	"github.com/gnrhost/gnrhost/host/pages"
	"github.com/gnrhost/gnrhost/internal/testpeer"
)

// phaseClient is one user on a counter page, incrementing over HTTP.
type phaseClient struct {
	http   *http.Client
	base   string
	route  string
	pageID string
	ok     int
}

func newPhaseClient(t *testing.T, h *testpeer.Host, route string) *phaseClient {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &phaseClient{http: &http.Client{Jar: jar, Timeout: 60 * time.Second}, base: h.URL(""), route: route}
	if err := c.load(); err != nil {
		t.Fatal(err)
	}
	return c
}

// load is a page load. The first one makes the page the client keeps calling; later
// ones open another page and close it again, as a browser tab that comes and goes, so
// the registers do not grow with the test's length.
func (c *phaseClient) load() error {
	resp, err := c.http.Get(c.base + c.route)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	id := resp.Header.Get("X-Gnr-Page-Id")
	if resp.StatusCode != 200 || id == "" {
		return fmt.Errorf("GET %s: %d", c.route, resp.StatusCode)
	}
	if c.pageID == "" {
		c.pageID = id
		return nil
	}
	resp, err = c.http.Post(c.base+"/_gnr/close", "application/json", strings.NewReader(fmt.Sprintf(`{"page_id":%q}`, id)))
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 && resp.StatusCode != 204 {
		return fmt.Errorf("close page: %d", resp.StatusCode)
	}
	return nil
}

func (c *phaseClient) rpc(method string) (json.RawMessage, error) { return c.call(method, "{}") }

// call runs method with params, a JSON object.
func (c *phaseClient) call(method, params string) (json.RawMessage, error) {
	body := fmt.Sprintf(`{"page_id":%q,"method":%q,"params":%s}`, c.pageID, method, params)
	resp, err := c.http.Post(c.base+"/_gnr/rpc", "application/json", strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("rpc %s: %d %s", method, resp.StatusCode, raw)
	}
	var out struct {
		Result json.RawMessage `json:"result"`
	}
	return out.Result, json.Unmarshal(raw, &out)
}

// metricValue reads one series (its name and labels as /metrics writes them, e.g.
// `x_total{result="ok"}`) from the /metrics at base; ok is false when it is absent.
func metricValue(t *testing.T, base, series string) (float64, bool) {
	t.Helper()
	_, metrics := get(t, base+"/metrics")
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` ([0-9.e+-]+)$`).FindStringSubmatch(metrics)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	return v, err == nil
}

// hostGauge reads one series of the host's /metrics, failing t when it is absent.
func hostGauge(t *testing.T, h *testpeer.Host, series string) float64 {
	t.Helper()
	v, ok := metricValue(t, h.URL(""), series)
	if !ok {
		t.Fatalf("no %s in /metrics", series)
	}
	return v
}

// TestPhaseCycleUnderLoad is the hot-swap acceptance test: 20 swaps cycling
// phase3 -> phase4 -> phase5 -> phase4 -> phase3 ... (the example files, the daemon's port
// aside) while clients load pages and call RPCs and a user's WebSocket receives the items
// another adds. No request fails, no socket closes, every counter ends at the number of
// increments its client saw succeed, and the host's memory does not grow with the swaps
// (its live heap within 10%, goroutines flat, the peak RSS of the last cycle within 25%
// of the first's).
func TestPhaseCycleUnderLoad(t *testing.T) {
	testpeer.RequirePython(t, "gunicorn")
	d := testpeer.StartGnrdaemon(t, "supersecretkey", 0)
	socket := filepath.Join(t.TempDir(), "admin.sock")
	files := map[string]string{}
	for _, name := range []string{"phase3", "phase4", "phase5"} {
		files[name] = exampleSet(t, name, d, "admin: {socket: "+socket+"}\nevents: {token_env: GNRHOST_TEST_EVENTS_TOKEN}\n")
	}
	const eventsToken = "phase-cycle-events-token"
	t.Setenv("GNRHOST_TEST_EVENTS_TOKEN", eventsToken)
	// A tighter GC and memory returned at once keep the resident set, sampled between
	// collections, close to what the host holds.
	t.Setenv("GOGC", "25")
	t.Setenv("GODEBUG", "madvdontneed=1")
	h := testpeer.StartHost(t, "--plugins", files["phase3"])

	routes := []string{"/counter/wat", "/counter/c", "/counter/rust", "/counter/assemblyscript"}
	var clients []*phaseClient
	for i := range 8 {
		clients = append(clients, newPhaseClient(t, h, routes[i%len(routes)]))
	}
	var failures, progress atomic.Int64
	var lastErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				var err error
				if n%10 == i%10 {
					err = c.load()
				} else if _, err = c.rpc("increment"); err == nil {
					c.ok++
				}
				if err != nil {
					failures.Add(1)
					lastErr.Store(err.Error())
					continue
				}
				progress.Add(1)
			}
		}()
	}
	waitProgress := func(n int64) {
		start := progress.Load()
		deadline := time.Now().Add(60 * time.Second)
		for progress.Load() < start+n {
			if time.Now().After(deadline) {
				t.Fatalf("clients stalled; logs:\n%s", h.Logs())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	// Two users on the todo page: one adds items, the other's socket must see every
	// push, and stay open, through every swap. The adder adds a list first, then announces
	// table changes (POST /_gnr/dbevents, as the legacy site does), each a push of the
	// same list to both pages: pushes all through the swaps while what the pages hold (the
	// list, their resume buffers once full) stays the same size, so that the memory read
	// before and after the swaps compares like with like.
	adder := newPhaseClient(t, h, "/todo/wat")
	watcherPage, _, watcherCookies := openPage(t, h, "/todo/wat")
	watcher := dialPage(t, h.Addr, watcherPage, watcherCookies)
	const initialItems = 40
	var pushes atomic.Int64
	var lastSeen atomic.Value // the newest item of the watcher's last push
	lastSeen.Store("")
	socketErr := make(chan error, 1)
	go func() {
		for {
			_ = watcher.conn.SetReadDeadline(time.Now().Add(2 * time.Minute))
			data, err := wsutil.ReadServerText(watcher.rw)
			if err != nil {
				socketErr <- err
				return
			}
			var f struct {
				Type string `json:"type"`
				Data struct {
					Items []struct {
						Text string `json:"text"`
					} `json:"items"`
				} `json:"data"`
			}
			json.Unmarshal(data, &f)
			if f.Type == "reload" {
				socketErr <- fmt.Errorf("reload frame: %s", data)
				return
			}
			if f.Type == "push" && len(f.Data.Items) > 0 {
				lastSeen.Store(f.Data.Items[len(f.Data.Items)-1].Text)
				pushes.Add(1)
			}
		}
	}()
	addItem := func(text string) error {
		_, err := adder.call("add", fmt.Sprintf(`{"text":%q}`, text))
		return err
	}
	announce := func() error {
		req, _ := http.NewRequest(http.MethodPost, h.URL("/_gnr/dbevents"), strings.NewReader(`{"events":[{"table":"todo.item","action":"U"}]}`))
		req.Header.Set("Authorization", "Bearer "+eventsToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := adder.http.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("dbevents: %d", resp.StatusCode)
		}
		return nil
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 1; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			var err error
			switch {
			case n <= initialItems:
				err = addItem(fmt.Sprintf("item-%d", n))
			case n%20 == 0:
				// The adder's own page: kept alive, and its datachanges taken, by its
				// user's requests (it has no socket).
				_, err = adder.rpc("list")
			default:
				err = announce()
			}
			if err != nil {
				failures.Add(1)
				lastErr.Store(err.Error())
			}
			// A site announcing changes, not a flood.
			time.Sleep(20 * time.Millisecond)
		}
	}()

	cycle := []string{"phase4", "phase5", "phase4", "phase3"}
	swap := func(i int) {
		target := cycle[i%len(cycle)]
		code, out, errOut := gnrhostCmd(t, "swap", "--admin", socket, files[target])
		if code != 0 {
			t.Fatalf("swap %d to %s: %d %s %s", i, target, code, out, errOut)
		}
	}
	// Warm up with two full cycles: every set's modules compiled and cached, pools and
	// buffers at their working size. The live heap grows by 3-4 MiB over the first 16
	// swaps and is flat from there (measured over 40: 62.0, 62.9, 63.6, 64.0, 64.5, 64.4,
	// 64.4, 63.7, 63.5, 64.0 MiB after every fourth).
	for i := range 2 * len(cycle) {
		waitProgress(20)
		swap(i)
	}
	waitProgress(20)
	// Memory: the host's live heap (after a full collection, through the admin
	// channel) and its goroutines are what a set left behind would keep; they are read
	// before and after the 20 swaps with the load running both times. The process's RSS
	// is sampled after every swap, because it swings by a third within a cycle (wazero's
	// compiled code is mapped outside the Go heap, and the race detector's shadow memory
	// follows it).
	waitPushes := func(n int64) {
		deadline := time.Now().Add(60 * time.Second)
		for pushes.Load() < n {
			if time.Now().After(deadline) {
				t.Fatalf("the watcher got %d pushes, waiting for %d; logs:\n%s", pushes.Load(), n, h.Logs())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitPushes(pages.DefaultOutboxSize + 50) // the pages' resume buffers are full
	before := liveMemory(t, socket)
	rss := make([]float64, 0, 20)
	for i := range 20 {
		waitProgress(20)
		// Pushes reach the watcher between every two swaps.
		waitPushes(pushes.Load() + 5)
		swap(i)
		rss = append(rss, hostGauge(t, h, "process_resident_memory_bytes"))
	}
	waitProgress(20)
	close(stop)
	wg.Wait()
	after := liveMemory(t, socket)
	// The watcher's socket is still open and sees an item added after the swaps.
	if err := addItem("item-last"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for lastSeen.Load() != "item-last" {
		select {
		case err := <-socketErr:
			t.Fatalf("the watcher's WebSocket ended during the swaps: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the watcher's last push shows %q, never item-last", lastSeen.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-socketErr:
		t.Fatalf("the watcher's WebSocket ended during the swaps: %v", err)
	default:
	}
	if n := failures.Load(); n > 0 {
		t.Errorf("%d requests failed across the swaps; last: %v", n, lastErr.Load())
	}
	for i, c := range clients {
		res, err := c.rpc("get")
		if err != nil {
			t.Fatalf("client %d get: %v", i, err)
		}
		var v struct {
			Count int `json:"count"`
		}
		json.Unmarshal(res, &v)
		if v.Count != c.ok {
			t.Errorf("client %d on %s: counter %d after %d successful increments", i, c.route, v.Count, c.ok)
		}
	}
	mib := func(v float64) float64 { return v / (1 << 20) }
	firstPeak, lastPeak := slices.Max(rss[:4]), slices.Max(rss[16:])
	heap0, heap1 := float64(before.HeapInuseBytes), float64(after.HeapInuseBytes)
	t.Logf("the watcher got %d pushes", pushes.Load())
	t.Logf("over 20 swaps: live heap %.1f -> %.1f MiB, from the OS %.1f -> %.1f MiB, goroutines %d -> %d, peak RSS of the first and last cycle %.1f -> %.1f MiB",
		mib(heap0), mib(heap1), mib(float64(before.SysBytes)), mib(float64(after.SysBytes)), before.Goroutines, after.Goroutines, mib(firstPeak), mib(lastPeak))
	// A set left behind keeps its goroutines (module watchdogs, pools, health checks),
	// its instances' memory and its compiled code, several MiB per swap, 20 times over.
	if after.Goroutines > before.Goroutines+10 {
		t.Errorf("goroutines grew from %d to %d over 20 swaps", before.Goroutines, after.Goroutines)
	}
	if heap1 > 1.10*heap0 {
		t.Errorf("the host's live heap grew over 20 swaps (> 10%%): %.1f -> %.1f MiB", mib(heap0), mib(heap1))
	}
	// The resident set only gets a coarse bound: under the race detector it swings by a
	// third within one cycle with nothing leaking (see above).
	if lastPeak > 1.25*firstPeak {
		t.Errorf("peak RSS grew from %.1f to %.1f MiB between the first and the last cycle (> 25%%)", mib(firstPeak), mib(lastPeak))
	}
	st := statusOf(t, socket)
	t.Logf("last swaps: %+v", st.Swaps[len(st.Swaps)-2:])
}

// liveMemory is the host's memory after a full collection (gnrhost memory --gc), the
// smallest of three readings: what the load has in flight at one moment (requests,
// pending pushes) moves a single reading by a few MiB.
func liveMemory(t *testing.T, socket string) admin.Memory {
	t.Helper()
	var least admin.Memory
	for i := range 3 {
		code, out, errOut := gnrhostCmd(t, "memory", "--admin", socket, "--gc", "--json")
		if code != 0 {
			t.Fatalf("gnrhost memory: %d %s", code, errOut)
		}
		var m admin.Memory
		if err := json.Unmarshal([]byte(out), &m); err != nil || !m.Collected || m.HeapInuseBytes == 0 {
			t.Fatalf("gnrhost memory --gc --json: %v\n%s", err, out)
		}
		if i == 0 || m.HeapInuseBytes < least.HeapInuseBytes {
			least = m
		}
	}
	return least
}
