package main

// The transport floor: what a fan-out to N loopback sockets costs on this machine when
// the server does nothing but write one ready-made push frame to each socket (no page,
// no handler, no WebSocket state), read by the same client code as the real run, in a
// second process. No host can fan out faster than this here; the real figures are read
// against it.

import (
	"bufio"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// floorServer runs rounds of the bare fan-out and prints them like the real ones.
func floorServer(conns, rounds int) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	self, err := os.Executable()
	check(err)
	cmd := exec.Command(self, "-floor-client", ln.Addr().String(), "-conns", strconv.Itoa(conns))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	check(err)
	check(cmd.Start())
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	sockets := make([]net.Conn, conns)
	for i := range sockets {
		c, err := ln.Accept()
		check(err)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetWriteBuffer(64 << 10) // as the host does
		}
		sockets[i] = c
	}
	lines := bufio.NewScanner(out)
	if !lines.Scan() || lines.Text() != "ready" {
		log.Fatalf("floor client did not start: %v", lines.Err())
	}
	settle()
	writers := runtime.GOMAXPROCS(0)
	var rates, p50s, p99s []float64
	for r := 0; r < rounds; r++ {
		frame := appendFrame(nil, uint64(r+1), []byte(`{"type":"todo.items","items":[]}`))
		h0, c0 := cpuTime(os.Getpid()), cpuTime(cmd.Process.Pid)
		start := time.Now()
		var wg sync.WaitGroup
		per := (conns + writers - 1) / writers
		for w := range writers {
			part := sockets[min(w*per, conns):min((w+1)*per, conns)]
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, c := range part {
					_, err := c.Write(frame)
					check(err)
				}
			}()
		}
		wg.Wait()
		if !lines.Scan() {
			log.Fatalf("floor client: %v", lines.Err())
		}
		h1, c1 := cpuTime(os.Getpid()), cpuTime(cmd.Process.Pid)
		var p50, p99, last int64
		if _, err := fmt.Sscan(lines.Text(), &p50, &p99, &last); err != nil {
			log.Fatalf("floor client said %q", lines.Text())
		}
		ms := func(ns int64) float64 { return float64(ns-start.UnixNano()) / 1e6 }
		rate := float64(conns) / (float64(last-start.UnixNano()) / 1e9)
		fmt.Printf("transport floor round %d: %d pushes: %.0f pushes/s, p50 %.1f ms, p99 %.1f ms; CPU per push: writer %.1f us, reader %.1f us\n",
			r+1, conns, rate, ms(p50), ms(p99),
			float64((h1-h0).Microseconds())/float64(conns), float64((c1-c0).Microseconds())/float64(conns))
		rates, p50s, p99s = append(rates, rate), append(p50s, ms(p50)), append(p99s, ms(p99))
	}
	fmt.Printf("transport floor median of %d rounds: %.0f pushes/s, p50 %.1f ms, p99 %.1f ms\n", rounds, median(rates), median(p50s), median(p99s))
}

// floorClient connects conns sockets to addr, reads push frames on each as the real run
// does, and after every round (a push on every socket) prints the p50, p99 and last
// arrival times in Unix nanoseconds.
func floorClient(addr string, conns int) {
	arrived := make([]int64, conns)
	var got atomic.Int64
	round := make(chan struct{}, 1)
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		check(err)
		br := bufio.NewReaderSize(c, 1024)
		go func() {
			var payload []byte
			for {
				data, err := readFrame(br, c, &payload)
				if err != nil {
					return
				}
				if _, ok := pushSeq(data); !ok {
					continue
				}
				arrived[i] = time.Now().UnixNano()
				if got.Add(1) == int64(conns) {
					round <- struct{}{}
				}
			}
		}()
	}
	fmt.Println("ready")
	for range round {
		got.Store(0)
		sorted := append([]int64(nil), arrived...)
		sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
		fmt.Println(strings.Join([]string{
			strconv.FormatInt(sorted[len(sorted)/2], 10),
			strconv.FormatInt(sorted[len(sorted)*99/100], 10),
			strconv.FormatInt(sorted[len(sorted)-1], 10),
		}, " "))
	}
}

// appendFrame is a push frame as the host writes it: a final unmasked text frame
// {"type":"push","seq":N,"data":DATA} (payloads under 64 KiB).
func appendFrame(b []byte, seq uint64, data []byte) []byte {
	payload := `{"type":"push","seq":` + strconv.FormatUint(seq, 10) + `,"data":` + string(data) + `}`
	if len(payload) < 126 {
		b = append(b, 0x81, byte(len(payload)))
	} else {
		b = append(b, 0x81, 126, byte(len(payload)>>8), byte(len(payload)))
	}
	return append(b, payload...)
}
