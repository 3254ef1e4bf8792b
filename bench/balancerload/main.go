// Command balancerload measures the local balancer (`gnrhost serve --local-balancer`)
// against real gnrhost processes, each side in the same run, and prints the ratios:
//
//   - throughput of a CPU-bound WASM RPC (bench/spin: a few ms of one core per call)
//     with 1 and with 2 host processes behind the balancer;
//   - the balancer's cost: a cheap RPC (the counter's get) straight to one host vs
//     through the balancer to one process;
//   - the share of users that move when 3 processes become 4 (`gnrhost scale 4`).
//
// Users are signed in: the tool signs their connection cookies with the secret it hands
// the balancer (GNRHOST_SESSION_SECRET), so they are named user-0 ... and hash the same
// way on every run. The load generator shares the machine with the host processes, so on
// a small machine its own CPU comes out of their throughput.
//
// Run it through bench/balancer.sh, which builds gnrhost and this tool.
package main

import (
	"bufio"
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gnrhost/gnrhost/host/admin"
	"github.com/gnrhost/gnrhost/host/session"
)

const secret = "balancerload: a secret shared by every host process"

func main() {
	gnrhost := flag.String("gnrhost", "", "the gnrhost binary (required)")
	root := flag.String("root", ".", "the source tree (for the page modules)")
	duration := flag.Duration("duration", 5*time.Second, "how long each throughput run lasts")
	conc := flag.Int("conc", 8, "concurrent requests in flight")
	users := flag.Int("users", 64, "users in a throughput run (each with its own page)")
	moveUsers := flag.Int("move-users", 1000, "users in the 3 -> 4 move measurement")
	instances := flag.Int("instances", 4, "instances (concurrent calls) of the spin route in each process")
	childProcs := flag.String("child-gomaxprocs", "", "GOMAXPROCS for the host processes (empty: Go's default)")
	balancerArgs := flag.String("balancer-args", "", "extra serve arguments for the balancer runs, space-separated (e.g. --cpuprofile FILE)")
	rounds := flag.Int("rounds", 3, "rounds of each comparison (medians are compared)")
	only := flag.String("only", "spin,overhead,move", "which measurements, comma-separated")
	flag.Parse()
	if *gnrhost == "" {
		log.Fatal("balancerload: -gnrhost is required")
	}
	dir, err := os.MkdirTemp("", "balancerload-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	set := writeSet(dir, *root, *instances)
	env := []string{session.EnvSecret + "=" + secret}
	if *childProcs != "" {
		env = append(env, "GOMAXPROCS="+*childProcs)
	}
	run := func(args ...string) *hostProc {
		return start(*gnrhost, env, append([]string{"serve", "--plugins", set}, args...)...)
	}
	runBalancer := func(n int) *hostProc {
		return run(append([]string{"--local-balancer", "--max-processes", fmt.Sprint(n)}, strings.Fields(*balancerArgs)...)...)
	}
	want := func(name string) bool { return slices.Contains(strings.Split(*only, ","), name) }
	fmt.Printf("balancerload: %d users, %d in flight, %s per run, spin instances %d, child GOMAXPROCS %q\n",
		*users, *conc, *duration, *instances, *childProcs)

	// The machine is shared and its load changes within a run: each comparison runs in
	// rounds, its two sides in alternating order, and the medians are compared.
	if want("spin") {
		var one, two []result
		for round := range *rounds {
			for _, n := range alternate(round, 1, 2) {
				h := runBalancer(n)
				r := measure(h, "/spin", "spin", *users, *conc, *duration)
				h.stop()
				fmt.Printf("round %d: spin RPC, balancer + %d process(es): %s\n", round+1, n, r)
				if n == 1 {
					one = append(one, r)
				} else {
					two = append(two, r)
				}
			}
		}
		a, b := median(one), median(two)
		fmt.Printf("median: spin RPC, 1 process:  %s\nmedian: spin RPC, 2 processes: %s\n", a, b)
		fmt.Printf("=> 2 processes / 1 process: %.2fx throughput\n\n", b.rps/a.rps)
	}
	if want("overhead") {
		var direct, through []result
		for round := range *rounds {
			for _, side := range alternate(round, 0, 1) {
				var h *hostProc
				if side == 0 {
					// One host process as it runs behind nginx: --process 1 (it adopts the
					// users' signed connections, as the processes behind the balancer do).
					h = run("--process", "1")
				} else {
					h = runBalancer(1)
				}
				r := measure(h, "/counter", "get", *users, *conc, *duration)
				h.stop()
				if side == 0 {
					fmt.Printf("round %d: counter get, straight to one host:     %s\n", round+1, r)
					direct = append(direct, r)
				} else {
					fmt.Printf("round %d: counter get, through the balancer (1): %s\n", round+1, r)
					through = append(through, r)
				}
			}
		}
		d, b := median(direct), median(through)
		fmt.Printf("median: counter get, direct:           %s\nmedian: counter get, through balancer: %s\n", d, b)
		fmt.Printf("=> balancer / direct: %.2fx throughput, p50 +%.0f us\n\n", b.rps/d.rps, float64(b.p50-d.p50)/1e3)
	}
	if want("move") {
		h := runBalancer(3)
		before := placeUsers(h.addr, *moveUsers)
		c := admin.NewClient(admin.DefaultSocket(h.addr), "")
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		rec, err := c.Scale(ctx, 4)
		cancel()
		if err != nil {
			h.stop()
			log.Fatalf("scale 4: %v", err)
		}
		after := placeUsers(h.addr, *moveUsers)
		h.stop()
		moved, toNew := 0, 0
		for i := range before {
			if before[i] != after[i] {
				moved++
				if after[i] == "04" {
					toNew++
				}
			}
		}
		fmt.Printf("scale 3 -> 4 (%.0f ms): %d of %d users moved (%.3f; expected about 0.25), %d of them to the new process\n",
			rec.Millis, moved, *moveUsers, float64(moved)/float64(*moveUsers), toNew)
	}
}

// writeSet writes the benchmark's plugin set: the spin page and the WAT counter.
func writeSet(dir, root string, instances int) string {
	abs := func(p string) string {
		a, err := filepath.Abs(filepath.Join(root, p))
		if err != nil {
			log.Fatal(err)
		}
		return a
	}
	yml := fmt.Sprintf(`name: balancerload
registry: {plugin: registry-mem}
wasm: {cache_dir: %s}
pages:
  - {route: /spin, module: %s, lifecycle: resident, instances: %d, max_per_connection: 1000}
  - {route: /counter, module: %s, lifecycle: resident, max_per_connection: 1000}
`, filepath.Join(dir, "cache"), abs("bench/spin/spin.wasm"), instances, abs("examples/pages/counter/wat/counter.wasm"))
	path := filepath.Join(dir, "set.yaml")
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		log.Fatal(err)
	}
	return path
}

// hostProc is a running `gnrhost serve`.
type hostProc struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{}
}

var listeningRE = regexp.MustCompile(`msg=listening addr=(\S+)`)

func start(exe string, env []string, args ...string) *hostProc {
	args = append(args, "--listen", "127.0.0.1:0")
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		log.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		log.Fatalf("start %v: %v", args, err)
	}
	h := &hostProc{cmd: cmd, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		defer close(h.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			} else if strings.Contains(sc.Text(), "level=ERROR") {
				log.Print(sc.Text())
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		_ = cmd.Wait()
	}()
	select {
	case h.addr = <-addr:
	case <-h.done:
		log.Fatalf("gnrhost %v exited before listening", args)
	case <-time.After(2 * time.Minute):
		log.Fatalf("gnrhost %v did not listen", args)
	}
	return h
}

func (h *hostProc) stop() {
	_ = h.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-h.done:
	case <-time.After(time.Minute):
		_ = h.cmd.Process.Kill()
		<-h.done
	}
}

// user is a signed-in user: its cookies and its page.
type user struct {
	cookie string
	pageID string
	proc   string
}

func newUser(i int) *user {
	s, err := session.NewSigner("gnrhost_conn", []byte(secret))
	if err != nil {
		log.Fatal(err)
	}
	id := session.Identity{ConnectionID: session.NewID(), User: fmt.Sprintf("user-%d", i)}
	return &user{cookie: "gnrhost_conn=" + s.Encode(id) + "; " + session.RouteCookie("gnrhost_conn") + "=" + session.RouteKey(id)}
}

var client = &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}

// load opens path for u and remembers its page and the process that answered.
func (u *user) load(addr, path string) error {
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	req.Header.Set("Cookie", u.cookie)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	u.pageID, u.proc = resp.Header.Get("X-Gnr-Page-Id"), resp.Header.Get("X-Gnr-Process")
	return nil
}

func (u *user) rpc(addr, method string) error {
	body := fmt.Sprintf(`{"page_id":%q,"method":%q,"params":{}}`, u.pageID, method)
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/_gnr/rpc", strings.NewReader(body))
	req.Header.Set("Cookie", u.cookie)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Gnr-Page-Id", u.pageID)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("rpc %s: %s", method, resp.Status)
	}
	return nil
}

type result struct {
	rps      float64
	p50, p99 time.Duration
	calls    int
	perProc  map[string]int
	// cpu is the CPU time the measured process (the balancer, or the direct host) used
	// per call: its own process only, not its children.
	cpu time.Duration
	// hostsCPU is the CPU time the host processes behind a balancer used per call.
	hostsCPU time.Duration
}

func (r result) String() string {
	hosts := ""
	if r.hostsCPU > 0 {
		hosts = fmt.Sprintf(", host processes %4.0f us/call", float64(r.hostsCPU)/1e3)
	}
	return fmt.Sprintf("%7.0f req/s  p50 %6.0f us  p99 %6.0f us  CPU: front process %4.0f us/call%s  (%d calls; users per process %v)",
		r.rps, float64(r.p50)/1e3, float64(r.p99)/1e3, float64(r.cpu)/1e3, hosts, r.calls, r.perProc)
}

// cpuTime is the user + system CPU pid has used, from /proc (10 ms ticks).
func cpuTime(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	var utime, stime int64
	fmt.Sscan(fields[11], &utime)
	fmt.Sscan(fields[12], &stime)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// measure loads a page for each of n users, warms up for a second, then calls method
// from conc workers (each cycling through its share of the users) for d.
func measure(h *hostProc, path, method string, n, conc int, d time.Duration) result {
	addr := h.addr
	us := make([]*user, n)
	perProc := map[string]int{}
	for i := range us {
		us[i] = newUser(i)
		if err := us[i].load(addr, path); err != nil {
			log.Fatal(err)
		}
		perProc[us[i].proc]++
	}
	phase := func(d time.Duration) ([]time.Duration, time.Duration) {
		var mu sync.Mutex
		var lat []time.Duration
		var wg sync.WaitGroup
		start := time.Now()
		deadline := start.Add(d)
		for w := range conc {
			wg.Go(func() {
				var mine []time.Duration
				for i := w; time.Now().Before(deadline); i += conc {
					u := us[i%n]
					t := time.Now()
					if err := u.rpc(addr, method); err != nil {
						log.Fatal(err)
					}
					mine = append(mine, time.Since(t))
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			})
		}
		wg.Wait()
		return lat, time.Since(start)
	}
	phase(time.Second) // warm-up: instances made, connections open
	kids := childPIDs(h)
	hostsCPU := func() (sum time.Duration) {
		for _, pid := range kids {
			sum += cpuTime(pid)
		}
		return sum
	}
	cpu0, kids0 := cpuTime(h.cmd.Process.Pid), hostsCPU()
	lat, took := phase(d)
	cpu, kidsCPU := cpuTime(h.cmd.Process.Pid)-cpu0, hostsCPU()-kids0
	slices.Sort(lat)
	return result{rps: float64(len(lat)) / took.Seconds(), p50: lat[len(lat)/2], p99: lat[len(lat)*99/100],
		calls: len(lat), perProc: perProc, cpu: cpu / time.Duration(len(lat)), hostsCPU: kidsCPU / time.Duration(len(lat))}
}

// alternate returns a, b in even rounds and b, a in odd ones.
func alternate(round, a, b int) []int {
	if round%2 == 1 {
		return []int{b, a}
	}
	return []int{a, b}
}

// median is the result with the median throughput.
func median(rs []result) result {
	s := slices.Clone(rs)
	slices.SortFunc(s, func(a, b result) int { return cmp.Compare(a.rps, b.rps) })
	return s[len(s)/2]
}

// childPIDs are the host processes behind h when it is a balancer (none otherwise).
func childPIDs(h *hostProc) []int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := admin.NewClient(admin.DefaultSocket(h.addr), "").Status(ctx)
	if err != nil {
		log.Fatalf("status of %s: %v", h.addr, err)
	}
	var pids []int
	for _, p := range st.Processes {
		pids = append(pids, p.PID)
	}
	return pids
}

// placeUsers loads the counter for n users and returns the process each landed on.
func placeUsers(addr string, n int) []string {
	out := make([]string, n)
	var wg sync.WaitGroup
	work := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range work {
				u := newUser(i)
				if err := u.load(addr, "/counter"); err != nil {
					log.Fatal(err)
				}
				out[i] = u.proc
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	return out
}
