// Command wsload measures gnrhost's WebSocket push path against a real gnrhost process:
//
//   - fan-out: one dbevent to N connected pages subscribed to its table (the todo
//     example, resident): pushes delivered per second and p50/p99 delivery latency;
//   - memory per idle connection: the host's RSS growth over N idle sockets, divided by N;
//   - RPC over WebSocket vs RPC over HTTP on the same resident page: time per call.
//
// Run it through bench/ws.sh, which builds gnrhost and prints the results.
package main

import (
	"bufio"
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
	"time"

	"github.com/gobwas/ws"
)

const token = "wsload-token-0123456789"

func main() {
	gnrhost := flag.String("gnrhost", "bin/gnrhost", "gnrhost binary")
	eventPage := flag.String("event-page", "examples/pages/todo/rust/todo.wasm", "module of the subscribed pages (its event entry runs per page)")
	conns := flag.Int("conns", 10000, "connected pages")
	rounds := flag.Int("rounds", 5, "fan-out rounds")
	calls := flag.Int("calls", 3000, "RPCs per transport")
	flag.Parse()
	root, _ := os.Getwd()

	dir, err := os.MkdirTemp("", "wsload-")
	check(err)
	defer os.RemoveAll(dir)
	set := filepath.Join(dir, "set.yaml")
	check(os.WriteFile(set, []byte(fmt.Sprintf(`registry: {plugin: registry-mem}
events: {token_env: WSLOAD_TOKEN}
executors: {workers: 4}
websocket: {queue_messages: 1024}
pages:
  - {route: /todo, module: %s, lifecycle: resident, max_per_connection: %d, instances: 2}
  - {route: /counter, module: %s, lifecycle: resident}
`, filepath.Join(root, *eventPage), *conns+10, filepath.Join(root, "examples/pages/counter/rust/counter.wasm"))), 0o600))

	cmd := exec.Command(*gnrhost, "serve", "--plugins", set, "--listen", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "WSLOAD_TOKEN="+token)
	stderr, _ := cmd.StderrPipe()
	check(cmd.Start())
	defer cmd.Process.Kill()
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

	// Connect every page; each socket gets a reader goroutine that timestamps pushes.
	type rx struct {
		at  time.Time
		seq uint64
	}
	received := make(chan rx, *conns)
	var wg sync.WaitGroup
	sockets := make([]net.Conn, *conns)
	for i, id := range pagesIDs {
		c := dial(addr, id, cookie)
		sockets[i] = c
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				data, err := readText(c)
				if err != nil {
					return
				}
				var f struct {
					Type string `json:"type"`
					Seq  uint64 `json:"seq"`
				}
				if json.Unmarshal(data, &f) == nil && f.Type == "push" {
					received <- rx{time.Now(), f.Seq}
				}
			}
		}()
	}
	settle()
	rssAfter := rss(pid)
	fmt.Printf("idle connections: %d, host RSS %0.1f MiB -> %0.1f MiB: %.1f KB per connection (target <= 10 KB)\n",
		*conns, float64(rssBefore)/1024, float64(rssAfter)/1024, float64(rssAfter-rssBefore)/float64(*conns))

	var rates, p50s, p99s []float64
	for r := 0; r < *rounds; r++ {
		start := time.Now()
		postEvent(base, r)
		lat := make([]float64, 0, *conns)
		var last time.Time
		timeout := time.After(60 * time.Second)
		for len(lat) < *conns {
			select {
			case x := <-received:
				lat = append(lat, float64(x.at.Sub(start).Microseconds())/1000)
				last = x.at
			case <-timeout:
				log.Fatalf("round %d: only %d of %d pushes arrived", r, len(lat), *conns)
			}
		}
		sort.Float64s(lat)
		rate := float64(*conns) / last.Sub(start).Seconds()
		p50, p99 := lat[len(lat)/2], lat[len(lat)*99/100]
		fmt.Printf("fan-out round %d: %d pushes in %s: %.0f pushes/s, p50 %.1f ms, p99 %.1f ms\n", r+1, *conns, last.Sub(start).Round(time.Millisecond), rate, p50, p99)
		rates, p50s, p99s = append(rates, rate), append(p50s, p50), append(p99s, p99)
	}
	fmt.Printf("fan-out median of %d rounds: %.0f pushes/s (target >= 100000), p50 %.1f ms, p99 %.1f ms (target <= 50 ms)\n",
		*rounds, median(rates), median(p50s), median(p99s))
	for _, c := range sockets {
		c.Close()
	}
	wg.Wait()

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
	c := dial(addr, page, cookie)
	_, _ = readText(c) // hello
	frame := []byte(`{"type":"rpc","id":1,"method":"increment","params":{}}`)
	wsPer := timeCalls(*calls, func() {
		check(writeText(c, frame))
		for {
			data, err := readText(c)
			check(err)
			if strings.Contains(string(data), `"type":"result"`) {
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

func dial(addr, page, cookie string) net.Conn {
	d := ws.Dialer{Header: ws.HandshakeHeaderHTTP(http.Header{"Cookie": {cookie}}), Timeout: 10 * time.Second}
	c, br, _, err := d.Dial(context.Background(), "ws://"+addr+"/_gnr/ws?page_id="+page)
	check(err)
	if br != nil {
		return &bufConn{Conn: c, r: io.MultiReader(br, c)}
	}
	return c
}

type bufConn struct {
	net.Conn
	r io.Reader
}

func (c *bufConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func readText(c net.Conn) ([]byte, error) {
	for {
		h, err := ws.ReadHeader(c)
		if err != nil {
			return nil, err
		}
		p := make([]byte, h.Length)
		if _, err := io.ReadFull(c, p); err != nil {
			return nil, err
		}
		switch h.OpCode {
		case ws.OpText:
			return p, nil
		case ws.OpClose:
			return nil, io.EOF
		}
	}
}

func writeText(c net.Conn, p []byte) error {
	// Masking works in place: mask a copy, so callers may reuse p.
	f := ws.MaskFrameInPlace(ws.NewTextFrame(append([]byte(nil), p...)))
	return ws.WriteFrame(c, f)
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
