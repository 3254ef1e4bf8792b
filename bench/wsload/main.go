// Command wsload measures gnrhost's WebSocket push path against a real gnrhost process:
//
//   - fan-out: one dbevent to N connected pages subscribed to its table (the todo
//     example, resident): pushes delivered per second and p50/p99 delivery latency, and
//     the CPU time each process spent per push;
//   - memory per idle connection: the host's RSS growth over N idle sockets, divided by N;
//   - RPC over WebSocket vs RPC over HTTP on the same resident page: time per call;
//   - with -floor, the transport floor: the same fan-out from a server that does nothing
//     but write ready-made frames (floor.go).
//
// Run it through bench/ws.sh, which builds gnrhost and prints the results.
//
// The load generator shares the machine with the host, so its own cost per push comes
// out of the host's throughput: each socket is read through a small buffer (one read
// syscall per push, not three) and pushes are recognised without a JSON decoder. Every
// push's sequence number is checked: a gap or a repeat fails the run.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gobwas/ws"
)

const token = "wsload-token-0123456789"

func main() {
	gnrhost := flag.String("gnrhost", "bin/gnrhost", "gnrhost binary")
	eventPage := flag.String("event-page", "examples/pages/todo/rust/todo.wasm", "module of the subscribed pages (its event entry runs per page, or once per dbevent with SHARED_EVENTS)")
	conns := flag.Int("conns", 10000, "connected pages")
	rounds := flag.Int("rounds", 5, "fan-out rounds")
	calls := flag.Int("calls", 3000, "RPCs per transport (0: skip the RPC comparison)")
	workers := flag.Int("workers", 4, "the host's executor workers (dbevent delivery workers)")
	instances := flag.Int("instances", 2, "WASM instances of the todo route")
	cpuProfile := flag.String("host-cpuprofile", "", "run the host with --cpuprofile `FILE` (the whole run: use many -rounds)")
	floor := flag.Bool("floor", false, "measure the transport floor instead: the same fan-out with a server that only writes ready-made frames (floor.go)")
	floorClientAddr := flag.String("floor-client", "", "internal: the reading side of -floor")
	flag.Parse()
	if *floorClientAddr != "" {
		floorClient(*floorClientAddr, *conns)
		return
	}
	if *floor {
		floorServer(*conns, *rounds)
		return
	}
	root, _ := os.Getwd()

	dir, err := os.MkdirTemp("", "wsload-")
	check(err)
	defer os.RemoveAll(dir)
	set := filepath.Join(dir, "set.yaml")
	check(os.WriteFile(set, []byte(fmt.Sprintf(`registry: {plugin: registry-mem}
events: {token_env: WSLOAD_TOKEN}
executors: {workers: %d}
websocket: {queue_messages: 1024}
pages:
  - {route: /todo, module: %s, lifecycle: resident, max_per_connection: %d, instances: %d}
  - {route: /counter, module: %s, lifecycle: resident}
`, *workers, filepath.Join(root, *eventPage), *conns+10, *instances, filepath.Join(root, "examples/pages/counter/rust/counter.wasm"))), 0o600))

	args := []string{"serve", "--plugins", set, "--listen", "127.0.0.1:0"}
	if *cpuProfile != "" {
		args = append(args, "--cpuprofile", *cpuProfile)
	}
	cmd := exec.Command(*gnrhost, args...)
	cmd.Env = append(os.Environ(), "WSLOAD_TOKEN="+token)
	stderr, _ := cmd.StderrPipe()
	check(cmd.Start())
	defer stop(cmd)
	addr := waitListening(stderr, cmd)
	base := "http://" + addr
	pid := cmd.Process.Pid

	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	pagesIDs := make([]string, *conns)
	for i := range pagesIDs {
		pagesIDs[i] = openPage(client, base+"/todo")
	}
	u, _ := url.Parse(base)
	var cookie string
	for _, c := range jar.Cookies(u) {
		cookie = c.Name + "=" + c.Value
	}
	settle()
	rssBefore := rss(pid)

	// Connect every page; each socket gets a reader goroutine that timestamps its pushes
	// into its slot of arrived and counts them in got.
	n := *conns
	arrived := make([]time.Time, n)
	var got atomic.Int64
	allIn := make(chan struct{}, 1)
	var wg sync.WaitGroup
	sockets := make([]net.Conn, n)
	for i, id := range pagesIDs {
		c, br := dial(addr, id, cookie)
		sockets[i] = c
		wg.Add(1)
		go func() {
			defer wg.Done()
			var last uint64
			first := true
			var payload []byte
			for {
				data, err := readFrame(br, c, &payload)
				if err != nil {
					return
				}
				seq, ok := pushSeq(data)
				if !ok {
					continue
				}
				if !first && seq != last+1 {
					log.Fatalf("page %s: push %d after %d: a gap or a repeat", id, seq, last)
				}
				first, last = false, seq
				arrived[i] = time.Now()
				if got.Add(1) == int64(n) {
					allIn <- struct{}{}
				}
			}
		}()
	}
	settle()
	rssAfter := rss(pid)
	fmt.Printf("idle connections: %d, host RSS %0.1f MiB -> %0.1f MiB: %.1f KB per connection (target <= 10 KB)\n",
		n, float64(rssBefore)/1024, float64(rssAfter)/1024, float64(rssAfter-rssBefore)/float64(n))

	var rates, p50s, p99s []float64
	var hostCPU, selfCPU time.Duration
	for r := 0; r < *rounds; r++ {
		got.Store(0)
		h0, s0 := cpuTime(pid), cpuTime(os.Getpid())
		start := time.Now()
		postEvent(base, r)
		select {
		case <-allIn:
		case <-time.After(60 * time.Second):
			log.Fatalf("round %d: only %d of %d pushes arrived", r, got.Load(), n)
		}
		h1, s1 := cpuTime(pid), cpuTime(os.Getpid())
		hostCPU += h1 - h0
		selfCPU += s1 - s0
		lat := make([]float64, n)
		var last time.Time
		for i, at := range arrived {
			lat[i] = float64(at.Sub(start).Microseconds()) / 1000
			if at.After(last) {
				last = at
			}
		}
		sort.Float64s(lat)
		rate := float64(n) / last.Sub(start).Seconds()
		p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
		fmt.Printf("fan-out round %d: %d pushes in %s: %.0f pushes/s, p50 %.1f ms, p99 %.1f ms; CPU per push: host %.1f us, load generator %.1f us\n",
			r+1, n, last.Sub(start).Round(time.Millisecond), rate, p50, p99,
			float64((h1-h0).Microseconds())/float64(n), float64((s1-s0).Microseconds())/float64(n))
		rates, p50s, p99s = append(rates, rate), append(p50s, p50), append(p99s, p99)
	}
	pushes := float64(n * *rounds)
	fmt.Printf("fan-out median of %d rounds: %.0f pushes/s (target >= 100000), p50 %.1f ms, p99 %.1f ms (target <= 50 ms); CPU per push: host %.1f us, load generator %.1f us\n",
		*rounds, median(rates), median(p50s), median(p99s), float64(hostCPU.Microseconds())/pushes, float64(selfCPU.Microseconds())/pushes)
	for _, c := range sockets {
		c.Close()
	}
	wg.Wait()
	if *calls <= 0 {
		return
	}

	// RPC over WebSocket vs HTTP on the same resident counter page, as a fresh user.
	jar2, _ := cookiejar.New(nil)
	client = &http.Client{Jar: jar2}
	page := openPage(client, base+"/counter")
	for _, c := range jar2.Cookies(u) {
		cookie = c.Name + "=" + c.Value
	}
	body := `{"page_id":"` + page + `","method":"increment","params":{}}`
	httpPer := timeCalls(*calls, func() {
		resp, err := client.Post(base+"/_gnr/rpc", "application/json", strings.NewReader(body))
		check(err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	})
	c, br := dial(addr, page, cookie)
	var payload []byte
	_, _ = readFrame(br, c, &payload) // hello
	frame := []byte(`{"type":"rpc","id":1,"method":"increment","params":{}}`)
	wsPer := timeCalls(*calls, func() {
		check(writeText(c, frame))
		for {
			data, err := readFrame(br, c, &payload)
			check(err)
			if bytes.Contains(data, []byte(`"type":"result"`)) {
				return
			}
		}
	})
	c.Close()
	fmt.Printf("RPC on a resident counter page, %d calls each: HTTP %.1f us/call, WebSocket %.1f us/call: WebSocket/HTTP = %.2f\n",
		*calls, httpPer, wsPer, wsPer/httpPer)
}

func timeCalls(n int, f func()) float64 {
	for range n / 10 {
		f() // warm up
	}
	start := time.Now()
	for range n {
		f()
	}
	return float64(time.Since(start).Microseconds()) / float64(n)
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

var listening = regexp.MustCompile(`msg=listening addr=(\S+)`)

func waitListening(r io.Reader, cmd *exec.Cmd) string {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if m := listening.FindStringSubmatch(sc.Text()); m != nil {
			go func() { _, _ = io.Copy(io.Discard, r) }()
			return m[1]
		}
		fmt.Fprintln(os.Stderr, sc.Text())
	}
	log.Fatalf("gnrhost exited before listening")
	return ""
}

// stop ends the host with SIGTERM (so a --cpuprofile is written) and waits for it.
func stop(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

func openPage(c *http.Client, u string) string {
	resp, err := c.Get(u)
	check(err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		log.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
	return resp.Header.Get("X-Gnr-Page-Id")
}

func postEvent(base string, round int) {
	req, _ := http.NewRequest("POST", base+"/_gnr/dbevents", strings.NewReader(`{"events":[{"table":"todo.item","action":"U","pkey":"`+strconv.Itoa(round)+`"}]}`))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	check(err)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		log.Fatalf("POST dbevents: %d", resp.StatusCode)
	}
}

// dial opens a page's socket and returns it with the buffered reader its frames are read
// through (which may already hold frames the server sent right after the handshake).
func dial(addr, page, cookie string) (net.Conn, *bufio.Reader) {
	d := ws.Dialer{Header: ws.HandshakeHeaderHTTP(http.Header{"Cookie": {cookie}}), Timeout: 10 * time.Second}
	c, br, _, err := d.Dial(context.Background(), "ws://"+addr+"/_gnr/ws?page_id="+page)
	check(err)
	if br == nil {
		br = bufio.NewReaderSize(c, 1024)
	}
	return c, br
}

// readFrame returns the next text message's payload, in *buf (reused between calls);
// control frames are skipped, a close frame is io.EOF.
func readFrame(br *bufio.Reader, c net.Conn, buf *[]byte) ([]byte, error) {
	for {
		h, err := ws.ReadHeader(br)
		if err != nil {
			return nil, err
		}
		if int64(cap(*buf)) < h.Length {
			*buf = make([]byte, h.Length)
		}
		p := (*buf)[:h.Length]
		if _, err := io.ReadFull(br, p); err != nil {
			return nil, err
		}
		switch h.OpCode {
		case ws.OpText:
			return p, nil
		case ws.OpClose:
			return nil, io.EOF
		case ws.OpPing:
			_ = ws.WriteFrame(c, ws.MaskFrameInPlace(ws.NewPongFrame(append([]byte(nil), p...))))
		}
	}
}

var pushPrefix = []byte(`{"type":"push","seq":`)

// pushSeq recognises a push frame and returns its sequence number. The host writes the
// type and seq first; anything else is decoded as JSON to be sure.
func pushSeq(data []byte) (uint64, bool) {
	if rest, ok := bytes.CutPrefix(data, pushPrefix); ok {
		end := bytes.IndexByte(rest, ',')
		if end > 0 {
			if seq, err := strconv.ParseUint(string(rest[:end]), 10, 64); err == nil {
				return seq, true
			}
		}
	}
	var f struct {
		Type string `json:"type"`
		Seq  uint64 `json:"seq"`
	}
	if json.Unmarshal(data, &f) != nil || f.Type != "push" {
		return 0, false
	}
	return f.Seq, true
}

func writeText(c net.Conn, p []byte) error {
	// Masking works in place: mask a copy, so callers may reuse p.
	f := ws.MaskFrameInPlace(ws.NewTextFrame(append([]byte(nil), p...)))
	return ws.WriteFrame(c, f)
}

// cpuTime is the CPU time (user and system) process pid has used so far, summed over
// its threads from the scheduler's nanosecond accounting.
func cpuTime(pid int) time.Duration {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tasks, err := os.ReadDir(dir)
	check(err)
	var total time.Duration
	for _, t := range tasks {
		data, err := os.ReadFile(filepath.Join(dir, t.Name(), "schedstat"))
		if err != nil {
			continue // the thread just exited
		}
		if f := strings.Fields(string(data)); len(f) > 0 {
			ns, _ := strconv.ParseInt(f[0], 10, 64)
			total += time.Duration(ns)
		}
	}
	return total
}

// rss reads the process's resident set in KiB.
func rss(pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	check(err)
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.Fields(v)[0])
			return n
		}
	}
	return 0
}

// settle gives the host a moment to finish what the last requests started before RSS is
// read (sockets accepted, goroutines parked).
func settle() { time.Sleep(2 * time.Second) }

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
