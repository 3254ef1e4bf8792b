package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/gnrhost/gnrhost/internal/testpeer"
)

// wsPage is a WebSocket client of one page, as the JS client would be.
type wsPage struct {
	conn net.Conn
	rw   io.ReadWriter
}

// dialPage opens the page's socket with the connection's cookies.
// openPage loads route on h as a new user and returns the page id, the user's client
// (its cookie jar kept) and its cookies, for dialPage.
func openPage(t *testing.T, h *testpeer.Host, route string) (string, *http.Client, []*http.Cookie) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, err := c.Get(h.URL(route))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("open %s: %v %v", route, err, resp)
	}
	resp.Body.Close()
	u, _ := url.Parse(h.URL("/"))
	return resp.Header.Get("X-Gnr-Page-Id"), c, jar.Cookies(u)
}

func dialPage(t *testing.T, hostAddr, pageID string, cookies []*http.Cookie) *wsPage {
	t.Helper()
	var parts []string
	for _, c := range cookies {
		parts = append(parts, c.Name+"="+c.Value)
	}
	d := ws.Dialer{Header: ws.HandshakeHeaderHTTP(http.Header{"Cookie": {strings.Join(parts, "; ")}}), Timeout: 10 * time.Second}
	conn, br, _, err := d.Dial(context.Background(), "ws://"+hostAddr+"/_gnr/ws?page_id="+pageID)
	if err != nil {
		t.Fatalf("websocket for page %s: %v", pageID, err)
	}
	t.Cleanup(func() { conn.Close() })
	// Frames that came with the handshake answer (the hello, often) are in br.
	var rd io.Reader = conn
	if br != nil {
		rd = io.MultiReader(br, conn)
	}
	p := &wsPage{conn: conn, rw: struct {
		io.Reader
		io.Writer
	}{rd, conn}}
	if f := p.next(t, 10*time.Second); f["type"] != "hello" {
		t.Fatalf("first frame %v, want hello", f)
	}
	return p
}

// next reads the next server frame as JSON, failing after timeout.
func (p *wsPage) next(t *testing.T, timeout time.Duration) map[string]any {
	t.Helper()
	_ = p.conn.SetReadDeadline(time.Now().Add(timeout))
	data, err := wsutil.ReadServerText(p.rw)
	if err != nil {
		t.Fatalf("read websocket frame: %v", err)
	}
	var f map[string]any
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("frame %q: %v", data, err)
	}
	return f
}

// nextPush skips frames until a push, and returns its data.
func (p *wsPage) nextPush(t *testing.T, timeout time.Duration) map[string]any {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		f := p.next(t, time.Until(deadline))
		if f["type"] == "push" {
			d, _ := f["data"].(map[string]any)
			return d
		}
		if f["type"] == "reload" {
			t.Fatalf("got reload: %v", f)
		}
	}
}
