package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
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

func (c *phaseClient) rpc(method string) (json.RawMessage, error) {
	body := fmt.Sprintf(`{"page_id":%q,"method":%q,"params":{}}`, c.pageID, method)
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
// (goroutines flat; the Go runtime's memory, and the peak RSS of the last cycle against
// the first's, within 25%).
func TestPhaseCycleUnderLoad(t *testing.T) {
	testpeer.RequirePython(t, "gunicorn")
	d := testpeer.StartGnrdaemon(t, "supersecretkey", 0)
	socket := filepath.Join(t.TempDir(), "admin.sock")
	files := map[string]string{}
	for _, name := range []string{"phase3", "phase4", "phase5"} {
		files[name] = exampleSet(t, name, d, "admin: {socket: "+socket+"}\n")
	}
	// A tighter GC and memory returned at once keep the Go runtime's share of the
	// resident set close to what it holds.
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
	// Two users on the todo page: one adds items, the other's socket must see every one,
	// and stay open, through every swap.
	adder := newPhaseClient(t, h, "/todo/wat")
	watcherJar, _ := cookiejar.New(nil)
	watcherHTTP := &http.Client{Jar: watcherJar}
	resp, err := watcherHTTP.Get(h.URL("/todo/wat"))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("watcher's page: %v %v", err, resp)
	}
	resp.Body.Close()
	hostURL, _ := url.Parse(h.URL("/"))
	watcher := dialPage(t, h.Addr, resp.Header.Get("X-Gnr-Page-Id"), watcherJar.Cookies(hostURL))
	const maxItems = 300
	var added atomic.Int64
	var lastSeen atomic.Value // the newest item the watcher's socket pushed
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
			}
		}
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 1; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			body := fmt.Sprintf(`{"page_id":%q,"method":"add","params":{"text":"item-%d"}}`, adder.pageID, n)
			resp, err := adder.http.Post(adder.base+"/_gnr/rpc", "application/json", strings.NewReader(body))
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			if err != nil || resp.StatusCode != 200 {
				failures.Add(1)
				lastErr.Store(fmt.Sprint("todo add: ", err, resp))
				continue
			}
			added.Store(int64(n))
			if n >= maxItems {
				return
			}
			// A person adding items, not a flood: every add rewrites the whole shared list,
			// which must not grow into tens of thousands of items over a slow run.
			time.Sleep(100 * time.Millisecond)
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
	// Warm up with one full cycle, so every set's modules are compiled and cached.
	for i := range len(cycle) {
		waitProgress(20)
		swap(i)
	}
	waitProgress(20)
	// Memory: the Go runtime's (heap, stacks: what a leaked set would keep) is read
	// before and after; the process's RSS is sampled after every swap, because it swings
	// by a third within a cycle (wazero's compiled code is mapped outside the Go heap,
	// and the race detector's shadow memory follows it).
	sys0, heap0, gor0 := hostGauge(t, h, "go_memstats_sys_bytes"), hostGauge(t, h, "go_memstats_heap_inuse_bytes"), hostGauge(t, h, "go_goroutines")
	rss := make([]float64, 0, 20)
	for i := range 20 {
		waitProgress(20)
		swap(i)
		rss = append(rss, hostGauge(t, h, "process_resident_memory_bytes"))
	}
	waitProgress(20)
	close(stop)
	wg.Wait()
	sys1, heap1, gor1 := hostGauge(t, h, "go_memstats_sys_bytes"), hostGauge(t, h, "go_memstats_heap_inuse_bytes"), hostGauge(t, h, "go_goroutines")
	// The watcher's socket is still open and got the last item added.
	want := fmt.Sprintf("item-%d", added.Load())
	deadline := time.Now().Add(20 * time.Second)
	for lastSeen.Load() != want {
		select {
		case err := <-socketErr:
			t.Fatalf("the watcher's WebSocket ended during the swaps: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the watcher's last push shows %q, never %s", lastSeen.Load(), want)
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
	t.Logf("over 20 swaps: Go runtime memory %.1f -> %.1f MiB, heap in use %.1f -> %.1f MiB, goroutines %.0f -> %.0f, peak RSS of the first and last cycle %.1f -> %.1f MiB",
		mib(sys0), mib(sys1), mib(heap0), mib(heap1), gor0, gor1, mib(firstPeak), mib(lastPeak))
	// A set left behind keeps its goroutines (module watchdogs, pools, health checks),
	// its instances' memory and its compiled code, several MiB per swap, 20 times over.
	// The bounds leave room for what the load itself adds meanwhile (the todo list,
	// pages' pending datachanges: 3-7 MiB of heap in these runs) and for when the
	// collector last ran; the exact check, after a forced collection, is host
	// TestSwapsReleaseMemory.
	if gor1 > gor0+10 {
		t.Errorf("goroutines grew from %.0f to %.0f over 20 swaps", gor0, gor1)
	}
	if heap1 > 1.25*heap0 || sys1 > 1.25*sys0 {
		t.Errorf("the Go runtime's memory grew over 20 swaps (> 25%%): heap in use %.1f -> %.1f MiB, from the OS %.1f -> %.1f MiB",
			mib(heap0), mib(heap1), mib(sys0), mib(sys1))
	}
	if lastPeak > 1.25*firstPeak {
		t.Errorf("peak RSS grew from %.1f to %.1f MiB between the first and the last cycle (> 25%%)", mib(firstPeak), mib(lastPeak))
	}
	st := statusOf(t, socket)
	t.Logf("last swaps: %+v", st.Swaps[len(st.Swaps)-2:])
}
