package ws_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"go.uber.org/goleak"

	"github.com/gnrhost/gnrhost/abi"
	"github.com/gnrhost/gnrhost/host"
	"github.com/gnrhost/gnrhost/host/pluginset"
	gws "github.com/gnrhost/gnrhost/host/ws"
	"github.com/gnrhost/gnrhost/internal/testpeer"
	registrymem "github.com/gnrhost/gnrhost/plugins/registry-mem"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("github.com/tetratelabs/wazero/internal/engine/wazevo.(*engine).callGoFunc"))
}

type testHost struct {
	*host.Host
	srv *httptest.Server
}

func startHost(t testing.TB, extra string) *testHost {
	t.Helper()
	return startHostGuest(t, extra, testpeer.PageGuestWAT)
}

// startHostGuest is startHost with another guest module (WAT source).
func startHostGuest(t testing.TB, extra, guestWAT string) *testHost {
	t.Helper()
	module := testpeer.WAT(t, "guest", guestWAT)
	yml := "registry: {plugin: registry-mem}\nwasm: {cache_dir: off}\n" + extra + "pages:\n" +
		"  - {route: /r, module: " + module + ", lifecycle: resident, max_per_connection: 5000}\n" +
		"  - {route: /e, module: " + module + ", lifecycle: ephemeral}\n"
	path := filepath.Join(t.TempDir(), "set.yaml")
	if err := os.WriteFile(path, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	cat := host.Catalog{Registries: map[string]abi.RegistryFactory{registrymem.Factory.Name: registrymem.Factory}}
	set, err := pluginset.Load(path, cat.PluginSetCatalog())
	if err != nil {
		t.Fatal(err)
	}
	h, err := host.New(context.Background(), host.Options{Set: set, Catalog: cat, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h.Handler())
	t.Cleanup(func() {
		_ = h.Close(context.Background())
		srv.Close()
	})
	return &testHost{Host: h, srv: srv}
}

// browser is one client connection (cookie jar) that opens pages and sockets.
type browser struct {
	t   testing.TB
	h   *testHost
	jar *cookiejar.Jar
}

func (h *testHost) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, h: h, jar: jar}
}

func (b *browser) open(route string) string {
	b.t.Helper()
	resp, err := (&http.Client{Jar: b.jar}).Get(b.h.srv.URL + route)
	if err != nil {
		b.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.Header.Get("X-Gnr-Page-Id")
}

func (b *browser) header(origin string) http.Header {
	u, _ := url.Parse(b.h.srv.URL)
	hd := http.Header{}
	for _, c := range b.jar.Cookies(u) {
		hd.Add("Cookie", c.Name+"="+c.Value)
	}
	if origin != "" {
		hd.Set("Origin", origin)
	}
	return hd
}

func (b *browser) wsURL(page, query string) string {
	return "ws" + strings.TrimPrefix(b.h.srv.URL, "http") + "/_gnr/ws?page_id=" + page + query
}

// dial connects a socket for page; the status is the HTTP answer when refused.
func (b *browser) dial(page, query, origin string) (net.Conn, int, error) {
	var status int
	d := ws.Dialer{
		Header:        ws.HandshakeHeaderHTTP(b.header(origin)),
		OnStatusError: func(s int, _ []byte, _ io.Reader) { status = s },
		Timeout:       5 * time.Second,
	}
	conn, br, _, err := d.Dial(context.Background(), b.wsURL(page, query))
	if err == nil && br != nil {
		// Frames the server sent right after the handshake may already sit in br.
		conn = &bufferedConn{Conn: conn, r: io.MultiReader(br, conn)}
	}
	return conn, status, err
}

type bufferedConn struct {
	net.Conn
	r io.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func (b *browser) mustDial(page, query string) net.Conn {
	b.t.Helper()
	conn, status, err := b.dial(page, query, b.h.srv.URL)
	if err != nil {
		b.t.Fatalf("dial: %v (status %d)", err, status)
	}
	b.t.Cleanup(func() { conn.Close() })
	return conn
}

type frame struct {
	Type    string          `json:"type"`
	Seq     uint64          `json:"seq"`
	Epoch   string          `json:"epoch"`
	LastSeq uint64          `json:"last_seq"`
	Resumed bool            `json:"resumed"`
	ID      json.RawMessage `json:"id"`
	Result  json.RawMessage `json:"result"`
	Error   json.RawMessage `json:"error"`
	Data    json.RawMessage `json:"data"`
	Reason  string          `json:"reason"`
}

// closedError is a close frame from the server.
type closedError struct{ code ws.StatusCode }

func (e closedError) Error() string { return "closed with " + strconv.Itoa(int(e.code)) }

// readText reads the next text message, skipping control frames other than close (the
// server pings only every ping_interval); a close frame is a closedError.
func readText(conn net.Conn) ([]byte, error) {
	for {
		h, err := ws.ReadHeader(conn)
		if err != nil {
			return nil, err
		}
		payload := make([]byte, h.Length)
		if _, err := io.ReadFull(conn, payload); err != nil {
			return nil, err
		}
		switch h.OpCode {
		case ws.OpClose:
			code := ws.StatusCode(0)
			if len(payload) >= 2 {
				code = ws.StatusCode(binary.BigEndian.Uint16(payload))
			}
			return nil, closedError{code}
		case ws.OpText:
			return payload, nil
		}
	}
}

// read reads the next data frame; a close frame is an error with its code.
func read(t *testing.T, conn net.Conn) (frame, error) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	data, err := readText(conn)
	if err != nil {
		return frame{}, err
	}
	var f frame
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("bad frame %q: %v", data, err)
	}
	return f, nil
}

func mustRead(t *testing.T, conn net.Conn) frame {
	t.Helper()
	f, err := read(t, conn)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return f
}

func closeCode(err error) ws.StatusCode {
	var ce closedError
	if errors.As(err, &ce) {
		return ce.code
	}
	return 0
}

func send(t *testing.T, conn net.Conn, v string) {
	t.Helper()
	if err := wsutil.WriteClientText(conn, []byte(v)); err != nil {
		t.Fatal(err)
	}
}

func TestPushesAndRPC(t *testing.T) {
	h := startHost(t, "")
	alice, bob := h.browser(t), h.browser(t)
	for _, route := range []string{"/r", "/e"} {
		page := alice.open(route)
		conn := alice.mustDial(page, "")
		hello := mustRead(t, conn)
		if hello.Type != "hello" || hello.Epoch == "" || hello.Resumed {
			t.Fatalf("%s: hello %+v", route, hello)
		}
		send(t, conn, `{"type":"rpc","id":7,"method":"set","params":{"v":1}}`)
		res := mustRead(t, conn)
		if res.Type != "result" || string(res.ID) != "7" || string(res.Result) != `{"v":1}` {
			t.Fatalf("%s: rpc result %+v", route, res)
		}
		send(t, conn, `{"type":"rpc","id":"x","method":"get"}`)
		if res := mustRead(t, conn); string(res.Result) != `{"v":1}` {
			t.Fatalf("%s: get over ws = %s (HTTP and WS reach the same page)", route, res.Result)
		}
		send(t, conn, `{"type":"rpc","id":8,"method":"fail"}`)
		if res := mustRead(t, conn); res.Type != "error" || !strings.Contains(string(res.Error), "guest_error") {
			t.Fatalf("%s: error frame %+v", route, res)
		}
		// A publish by another user's page reaches this page's socket as a push.
		other := bob.open("/e")
		if code := postRPC(t, bob, other, "pub"); code != 200 {
			t.Fatalf("pub: %d", code)
		}
		push := mustRead(t, conn)
		if push.Type != "push" || push.Seq != 1 || !strings.Contains(string(push.Data), `"table":"t.x"`) {
			t.Fatalf("%s: push %+v", route, push)
		}
		send(t, conn, `{"type":"ping","id":3}`)
		if f := mustRead(t, conn); f.Type != "pong" || string(f.ID) != "3" {
			t.Fatalf("pong %+v", f)
		}
		send(t, conn, `{"type":"nonsense"}`)
		if f := mustRead(t, conn); f.Type != "error" {
			t.Fatalf("unknown frame type answered %+v", f)
		}
	}
}

func postRPC(t *testing.T, b *browser, page, method string) int {
	t.Helper()
	resp, err := (&http.Client{Jar: b.jar}).Post(b.h.srv.URL+"/_gnr/rpc", "application/json",
		strings.NewReader(`{"page_id":"`+page+`","method":"`+method+`","params":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestUpgradeRefusals(t *testing.T) {
	h := startHost(t, "websocket: {allowed_origins: [\"https://app.example.com\"]}\n")
	alice, mallory := h.browser(t), h.browser(t)
	page := alice.open("/r")
	mallory.open("/r")
	cases := []struct {
		name   string
		b      *browser
		page   string
		origin string
		want   int
	}{
		{"cross-site origin", alice, page, "https://evil.example", 403},
		{"another connection's page", mallory, page, h.srv.URL, 403},
		{"bad page id", alice, "nope", h.srv.URL, 400},
		{"no cookie", &browser{t: t, h: h, jar: mustJar()}, page, h.srv.URL, 403},
	}
	for _, c := range cases {
		if _, status, err := c.b.dial(c.page, "", c.origin); err == nil || status != c.want {
			t.Errorf("%s: status %d err %v, want %d", c.name, status, err, c.want)
		}
	}
	// An unknown page is told to reload on an open socket (a browser cannot read the
	// status of a refused upgrade and would retry forever).
	gone := alice.mustDial("AAAAAAAAAAAAAAAAAAAAAA|p03", "")
	if f := mustRead(t, gone); f.Type != "reload" {
		t.Errorf("unknown page answered %+v, want a reload frame", f)
	}
	if _, err := read(t, gone); closeCode(err) != gws.CloseReload {
		t.Errorf("unknown page close: %v, want %d", err, gws.CloseReload)
	}
	for _, origin := range []string{"https://app.example.com", ""} {
		conn, status, err := alice.dial(page, "", origin)
		if err != nil {
			t.Fatalf("allowed origin %q refused: %d %v", origin, status, err)
		}
		conn.Close()
	}
	resp, err := http.Get(h.srv.URL + "/_gnr/ws?page_id=" + page)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("plain GET: %d", resp.StatusCode)
	}
}

func mustJar() *cookiejar.Jar { j, _ := cookiejar.New(nil); return j }

// A client that reconnects with the epoch and the last push it saw gets what it missed,
// in order; one that cannot be served is told to reload.
func TestResume(t *testing.T) {
	h := startHost(t, "")
	alice, bob := h.browser(t), h.browser(t)
	page := alice.open("/r")
	publisher := bob.open("/e")
	conn := alice.mustDial(page, "")
	hello := mustRead(t, conn)
	postRPC(t, bob, publisher, "pub")
	if p := mustRead(t, conn); p.Seq != 1 {
		t.Fatalf("first push %+v", p)
	}
	conn.Close()
	for range 3 {
		postRPC(t, bob, publisher, "pub")
	}
	waitLast(t, h, alice, page, 4)
	conn = alice.mustDial(page, "&epoch="+hello.Epoch+"&last_seq=1")
	if f := mustRead(t, conn); f.Type != "hello" || !f.Resumed || f.LastSeq != 4 {
		t.Fatalf("resume hello %+v", f)
	}
	for want := uint64(2); want <= 4; want++ {
		if p := mustRead(t, conn); p.Type != "push" || p.Seq != want {
			t.Fatalf("resumed push %+v, want seq %d", p, want)
		}
	}
	conn.Close()

	stale := alice.mustDial(page, "&epoch=someother&last_seq=1")
	if f := mustRead(t, stale); f.Type != "reload" {
		t.Fatalf("stale epoch answered %+v", f)
	}
	if _, err := read(t, stale); closeCode(err) != gws.CloseReload {
		t.Fatalf("stale epoch close: %v", err)
	}
	// More pushes than the buffer keeps: resuming from seq 1 cannot be complete.
	for range 300 {
		if _, err := h.Pages().Notify(context.Background(), []abi.DbEvent{{Table: "t.x", Action: "U"}}, "", "test"); err != nil {
			t.Fatal(err)
		}
	}
	waitLast(t, h, alice, page, 304)
	gone := alice.mustDial(page, "&epoch="+hello.Epoch+"&last_seq=1")
	if f := mustRead(t, gone); f.Type != "reload" || !strings.Contains(f.Reason, "no longer kept") {
		t.Fatalf("overflowed resume answered %+v", f)
	}
}

// waitLast waits until the page's newest push is seq (dbevents are delivered after the
// publishing call returns).
func waitLast(t *testing.T, h *testHost, b *browser, page string, seq uint64) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		pushes, _, wait := h.Pages().Pushes(page, seq-1)
		if len(pushes) > 0 {
			return
		}
		select {
		case <-wait:
		case <-deadline:
			t.Fatalf("page never reached push %d", seq)
		}
	}
}

// rawConn upgrades a socket and returns the raw connection, after reading the hello.
func rawConn(t *testing.T, b *browser, page string) net.Conn {
	t.Helper()
	conn := b.mustDial(page, "")
	mustRead(t, conn)
	return conn
}

func masked(op ws.OpCode, fin bool, payload []byte) []byte {
	f := ws.NewFrame(op, fin, payload)
	f = ws.MaskFrameInPlace(f)
	var buf bytes.Buffer
	_ = ws.WriteFrame(&buf, f)
	return buf.Bytes()
}

// expectClose reads until the server's close frame and returns its code.
func expectClose(t *testing.T, conn net.Conn) ws.StatusCode {
	t.Helper()
	for {
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		h, err := ws.ReadHeader(conn)
		if err != nil {
			t.Fatalf("no close frame: %v", err)
		}
		payload := make([]byte, h.Length)
		if _, err := io.ReadFull(conn, payload); err != nil {
			t.Fatalf("read payload: %v", err)
		}
		if h.OpCode == ws.OpClose {
			if len(payload) < 2 {
				return 0
			}
			return ws.StatusCode(binary.BigEndian.Uint16(payload))
		}
	}
}

// Each malformed input gets the close code RFC 6455 prescribes, and the server keeps
// serving other connections.
func TestRawFrames(t *testing.T) {
	h := startHost(t, "websocket: {max_message_bytes: 1024}\n")
	b := h.browser(t)
	page := b.open("/r")

	t.Run("fragmented with interleaved ping", func(t *testing.T) {
		conn := rawConn(t, b, page)
		msg := []byte(`{"type":"ping","id":42}`)
		var out []byte
		out = append(out, masked(ws.OpText, false, msg[:5])...)
		out = append(out, masked(ws.OpPing, true, []byte("hb"))...)
		out = append(out, masked(ws.OpContinuation, false, msg[5:12])...)
		out = append(out, masked(ws.OpContinuation, true, msg[12:])...)
		if _, err := conn.Write(out); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		hd, err := ws.ReadHeader(conn)
		if err != nil || hd.OpCode != ws.OpPong {
			t.Fatalf("want a pong first, got %+v %v", hd, err)
		}
		pong := make([]byte, hd.Length)
		io.ReadFull(conn, pong)
		if string(pong) != "hb" {
			t.Fatalf("pong payload %q", pong)
		}
		if f := mustRead(t, conn); f.Type != "pong" || string(f.ID) != "42" {
			t.Fatalf("reassembled message answered %+v", f)
		}
	})
	cases := []struct {
		name string
		data []byte
		want ws.StatusCode
	}{
		{"invalid UTF-8", masked(ws.OpText, true, []byte{0xff, 0xfe, '{', '}'}), gws.CloseInvalidData},
		{"oversized frame", masked(ws.OpText, true, bytes.Repeat([]byte("a"), 2000)), gws.CloseTooBig},
		{"oversized fragmented message", append(masked(ws.OpText, false, bytes.Repeat([]byte("a"), 600)), masked(ws.OpContinuation, true, bytes.Repeat([]byte("a"), 600))...), gws.CloseTooBig},
		{"unmasked frame", func() []byte {
			var buf bytes.Buffer
			ws.WriteFrame(&buf, ws.NewTextFrame([]byte(`{}`)))
			return buf.Bytes()
		}(), gws.CloseProtocol},
		{"close code 1005 on the wire", masked(ws.OpClose, true, []byte{0x03, 0xed}), gws.CloseProtocol},
		{"close code 999", masked(ws.OpClose, true, []byte{0x03, 0xe7}), gws.CloseProtocol},
		{"close with one byte", masked(ws.OpClose, true, []byte{0x03}), gws.CloseProtocol},
		{"valid close 1000 echoed", masked(ws.OpClose, true, []byte{0x03, 0xe8}), gws.CloseNormal},
		{"valid close 4321 echoed", masked(ws.OpClose, true, []byte{0x10, 0xe1}), 4321},
		{"continuation first", masked(ws.OpContinuation, true, []byte("x")), gws.CloseProtocol},
		{"text inside fragmented", append(masked(ws.OpText, false, []byte("{")), masked(ws.OpText, true, []byte("}"))...), gws.CloseProtocol},
		{"control frame too long", masked(ws.OpPing, true, bytes.Repeat([]byte("p"), 126)), gws.CloseProtocol},
		{"fragmented control frame", masked(ws.OpPing, false, []byte("p")), gws.CloseProtocol},
		{"reserved opcode", masked(ws.OpCode(0x3), true, []byte("x")), gws.CloseProtocol},
		{"binary message", masked(ws.OpBinary, true, []byte{1, 2}), gws.CloseUnsupported},
		{"not JSON", masked(ws.OpText, true, []byte("hello")), gws.CloseInvalidData},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conn := rawConn(t, b, page)
			if _, err := conn.Write(c.data); err != nil {
				t.Fatal(err)
			}
			if got := expectClose(t, conn); got != c.want {
				t.Fatalf("close code %d, want %d", got, c.want)
			}
		})
	}
	// The server is unharmed.
	conn := rawConn(t, b, page)
	send(t, conn, `{"type":"ping","id":1}`)
	if f := mustRead(t, conn); f.Type != "pong" {
		t.Fatalf("after the bad frames: %+v", f)
	}
}

// A client reading too slowly is closed with the slow-consumer code, while a client of
// another page, fed the same pushes, keeps up and keeps its latency.
func TestSlowConsumer(t *testing.T) {
	h := startHost(t, "websocket: {queue_bytes: 131072, write_timeout: 30s}\n")
	slowB, fastB := h.browser(t), h.browser(t)
	slow := slowB.mustDial(slowB.open("/r"), "")
	fast := fastB.mustDial(fastB.open("/r"), "")
	mustRead(t, slow)
	mustRead(t, fast)
	raw := slow
	if bc, ok := slow.(*bufferedConn); ok {
		raw = bc.Conn
	}
	if tc, ok := raw.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4096)
	}
	// 3 KB pushes: the test guest pushes its event input through a 4 KB buffer.
	big, _ := json.Marshal(strings.Repeat("x", 3000))
	const total = 300
	// The fast client reads everything as it comes, timing each push.
	fastDone := make(chan error, 1)
	go func() {
		for i := 1; i <= total; i++ {
			f, err := read(t, fast)
			if err != nil {
				fastDone <- err
				return
			}
			if f.Seq != uint64(i) {
				fastDone <- errors.New("fast client: out of order push")
				return
			}
		}
		fastDone <- nil
	}()
	// Pushes at a steady ~1.5 MB/s: easy for a reader, too much for one that takes a
	// message every 10 ms (~300 KB/s).
	slowDone := make(chan ws.StatusCode, 1)
	go func() {
		for {
			_, err := read(t, slow)
			if err != nil {
				slowDone <- closeCode(err)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	start := time.Now()
	for i := range total {
		ev := abi.DbEvent{Table: "t.x", Action: "U", PKey: strconv.Itoa(i), Data: big}
		if _, err := h.Pages().Notify(context.Background(), []abi.DbEvent{ev}, "", "test"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond) // pacing the load, not waiting for anything
	}
	if err := <-fastDone; err != nil {
		t.Fatalf("fast client: %v", err)
	}
	t.Logf("fast client got all %d pushes in %s", total, time.Since(start))
	select {
	case code := <-slowDone:
		if code != gws.CloseSlowConsumer {
			t.Fatalf("slow client closed with %d, want %d", code, gws.CloseSlowConsumer)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("slow client never closed")
	}
	// A marker after the slow client is gone arrives promptly at the fast one.
	begin := time.Now()
	if _, err := h.Pages().Notify(context.Background(), []abi.DbEvent{{Table: "t.x", Action: "marker"}}, "", "test"); err != nil {
		t.Fatal(err)
	}
	if f := mustRead(t, fast); f.Seq != total+1 {
		t.Fatalf("marker %+v", f)
	}
	if lat := time.Since(begin); lat > time.Second {
		t.Fatalf("fast client's latency %s", lat)
	}
}

func TestShutdownSaysGoingAway(t *testing.T) {
	h := startHost(t, "")
	b := h.browser(t)
	conn := b.mustDial(b.open("/r"), "")
	mustRead(t, conn)
	if err := h.WebSocket().Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := read(t, conn); closeCode(err) != gws.CloseGoingAway {
		t.Fatalf("shutdown close: %v", err)
	}
	if h.WebSocket().Count() != 0 {
		t.Fatal("connections left registered")
	}
}

func TestPageCloseTellsClientToReload(t *testing.T) {
	h := startHost(t, "")
	b := h.browser(t)
	page := b.open("/r")
	conn := b.mustDial(page, "")
	mustRead(t, conn)
	resp, err := (&http.Client{Jar: b.jar}).Post(h.srv.URL+"/_gnr/close", "application/json", strings.NewReader(`{"page_id":"`+page+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if f := mustRead(t, conn); f.Type != "reload" {
		t.Fatalf("after page close: %+v", f)
	}
	if _, err := read(t, conn); closeCode(err) != gws.CloseReload {
		t.Fatalf("close code: %v", err)
	}
}

// Dbevents from outside the host reach subscribed pages' sockets: through the
// authenticated POST endpoint, and through the registry's notify path (what the legacy
// site does via gnrdaemon).
func TestExternalDbEvents(t *testing.T) {
	t.Setenv("TEST_EVENTS_TOKEN", "0123456789abcdef-token")
	h := startHost(t, "events: {token_env: TEST_EVENTS_TOKEN}\n")
	b := h.browser(t)
	conn := b.mustDial(b.open("/e"), "")
	mustRead(t, conn)

	post := func(token, body string) int {
		req, _ := http.NewRequest("POST", h.srv.URL+"/_gnr/dbevents", strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	good := `{"events":[{"table":"t.x","action":"U","pkey":"42"}],"reason":"legacy save"}`
	if code := post("", good); code != 401 {
		t.Fatalf("no token: %d", code)
	}
	if code := post("wrong-token-wrong-token", good); code != 401 {
		t.Fatalf("wrong token: %d", code)
	}
	for _, bad := range []string{`{"events":[]}`, `{"events":[{"table":"nodot"}]}`, `{"events":[{"table":"t.x"}],"extra":1}`, `not json`} {
		if code := post("0123456789abcdef-token", bad); code != 400 {
			t.Fatalf("bad body %s: %d", bad, code)
		}
	}
	if code := post("0123456789abcdef-token", good); code != 200 {
		t.Fatalf("good post: %d", code)
	}
	if p := mustRead(t, conn); p.Type != "push" || !strings.Contains(string(p.Data), `"pkey":"42"`) {
		t.Fatalf("push after POST: %+v", p)
	}
	// Someone else notifies through the registry directly.
	if _, err := h.Registry().NotifyDbEvents(context.Background(), []abi.DbEvent{{Table: "t.x", Action: "D", PKey: "7"}}, "", "legacy"); err != nil {
		t.Fatal(err)
	}
	if p := mustRead(t, conn); p.Type != "push" || !strings.Contains(string(p.Data), `"pkey":"7"`) {
		t.Fatalf("push after registry notify: %+v", p)
	}
	// The host's own notices are not delivered twice.
	if code := post("0123456789abcdef-token", `{"events":[{"table":"t.x","action":"U","pkey":"once"}]}`); code != 200 {
		t.Fatal(code)
	}
	if p := mustRead(t, conn); !strings.Contains(string(p.Data), `"pkey":"once"`) {
		t.Fatalf("push %+v", p)
	}
	_ = conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if data, err := readText(conn); err == nil {
		t.Fatalf("duplicate delivery: %s", data)
	}
}
