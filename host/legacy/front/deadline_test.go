package front

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// serveFront serves h through a front with the given timeouts on a loopback port.
func serveFront(t *testing.T, h http.Handler, header, idle time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New(Config{Router: HandlerRouter(h), ReadHeaderTimeout: header, IdleTimeout: idle})
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Serve(ln) }()
	t.Cleanup(func() { s.Close(); <-done; s.Wait() })
	return ln.Addr().String()
}

func TestDeadlinesKeptAcrossRequests(t *testing.T) {
	// The read deadline of a head is kept while a request without a body is served
	// (setDeadline): one that passes meanwhile must not cut the next request, a body
	// must be readable however long the handler takes to read it, and an idle
	// connection is still closed.
	const header, idle = 100 * time.Millisecond, 300 * time.Millisecond
	addr := serveFront(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(2 * header) // past the head's deadline
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		fmt.Fprintf(w, "%s %d", r.URL.Path, len(b))
	}), header, idle)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	ask := func(req, want string) {
		t.Helper()
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(b) != want {
			t.Fatalf("%d %q, want %q", resp.StatusCode, b, want)
		}
	}
	ask("GET /a HTTP/1.1\r\nHost: x\r\n\r\n", "/a 0")
	ask("GET /b HTTP/1.1\r\nHost: x\r\n\r\n", "/b 0")
	// Pipelined, the second with a body that comes after the handler's sleep.
	if _, err := io.WriteString(c, "GET /c HTTP/1.1\r\nHost: x\r\n\r\nPOST /d HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"/c 0", "/d 5"} {
		if want == "/d 5" {
			time.Sleep(2 * header)
			_, _ = io.WriteString(c, "hello")
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if string(b) != want {
			t.Fatalf("%q, want %q", b, want)
		}
	}
	// Idle: closed after idle (at most 1/16 sooner), not much later.
	start := time.Now()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := br.ReadByte(); err == nil || strings.Contains(err.Error(), "timeout") {
		t.Fatalf("idle connection not closed: %v", err)
	}
	if waited := time.Since(start); waited < idle-idle/16-20*time.Millisecond || waited > 3*idle {
		t.Errorf("closed after %v idle, want about %v", waited, idle)
	}
}
