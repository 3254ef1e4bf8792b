package host_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/gnrhost/gnrhost/host"
	"github.com/gnrhost/gnrhost/host/ipc"
	"github.com/gnrhost/gnrhost/host/pluginset"
	"github.com/gnrhost/gnrhost/host/session"
	"github.com/gnrhost/gnrhost/internal/testpeer"
)

// moveTo returns a client of the same browser (its cookies) talking to another process,
// as a balancer does when the page's process is gone.
func (u *todoUser) moveTo(t *testing.T, base string) *todoUser {
	t.Helper()
	from, _ := url.Parse(u.base)
	to, _ := url.Parse(base)
	jar, _ := cookiejar.New(nil)
	jar.SetCookies(to, u.jar.Cookies(from))
	return &todoUser{http: &http.Client{Jar: jar}, base: base, pageID: u.pageID, jar: jar}
}

// dialResume opens a socket that resumes after push lastSeq of epoch.
func (u *todoUser) dialResume(t *testing.T, epoch string, lastSeq float64) (*socket, int) {
	t.Helper()
	base, _ := url.Parse(u.base)
	var cookies []string
	for _, c := range u.jar.Cookies(base) {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	d := ws.Dialer{Header: ws.HandshakeHeaderHTTP(http.Header{"Cookie": {strings.Join(cookies, "; ")}}), Timeout: 5 * time.Second}
	target := fmt.Sprintf("ws://%s/_gnr/ws?page_id=%s&epoch=%s&last_seq=%d", base.Host, url.QueryEscape(u.pageID), url.QueryEscape(epoch), int(lastSeq))
	conn, br, _, err := d.Dial(context.Background(), target)
	if err != nil {
		var status ws.StatusError
		if se, ok := err.(ws.StatusError); ok {
			status = se
			return nil, int(status)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	s := &socket{conn: conn, rd: conn}
	if br != nil {
		s.rd = io.MultiReader(br, conn)
	}
	return s, 101
}

func (u *todoUser) rpc(t *testing.T, method, params string) int {
	t.Helper()
	body := fmt.Sprintf(`{"page_id":%q,"method":%q,"params":%s}`, u.pageID, method, params)
	resp, err := u.http.Post(u.base+"/_gnr/rpc", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestPersistPageMovesProcess: a `persist: true` page made on process 1 is rebuilt by
// process 2 from its snapshot when its client comes there: only for its own connection,
// with its store, and its socket resumes its pushes without a reload. Closing it drops
// the snapshot.
func TestPersistPageMovesProcess(t *testing.T) {
	t.Setenv("GNRHOST_TEST_SECRET", "0123456789abcdef0123")
	t.Setenv("GNRHOST_TEST_EVENTS", notifyToken)
	natsURL := testpeer.EmbeddedNATS(t)
	file := natsPageSet(t, t.TempDir(), natsURL, "todo", ", persist: true")
	rt1, s1 := startProcess(t, file, 1)
	_, s2 := startProcess(t, file, 2)

	alice := openTodo(t, s1.URL)
	sock := alice.dial(t)
	hello := sock.nextOfType(t, "hello")
	alice.add(t, "one")
	push := sock.nextOfType(t, "push")
	rt1.Current().Pages().FlushSnapshots(context.Background())

	// Someone else's cookie on process 2 does not get the page, by RPC or by socket.
	mallory := openTodo(t, s2.URL)
	mallory.pageID = alice.pageID
	if code := mallory.rpc(t, "add", `{"text":"intruder"}`); code != http.StatusForbidden {
		t.Fatalf("another connection's RPC on the persisted page: %d; want 403", code)
	}
	if _, code := mallory.dialResume(t, hello["epoch"].(string), push["seq"].(float64)); code != http.StatusForbidden {
		t.Fatalf("another connection's socket on the persisted page: %d; want 403", code)
	}

	// The page's own browser, moved to process 2, resumes after the push it saw.
	moved := alice.moveTo(t, s2.URL)
	sock2, code := moved.dialResume(t, hello["epoch"].(string), push["seq"].(float64))
	if code != 101 {
		t.Fatalf("resume on process 2: %d", code)
	}
	if h := sock2.nextOfType(t, "hello"); h["resumed"] != true || h["epoch"] != hello["epoch"] || h["last_seq"] != push["seq"] {
		t.Fatalf("hello on process 2 %v; want a resume of %v at %v", h, hello["epoch"], push["seq"])
	}
	moved.add(t, "two")
	if p := sock2.nextOfType(t, "push"); p["seq"] != push["seq"].(float64)+1 || !strings.Contains(fmt.Sprint(p["data"]), "two") {
		t.Fatalf("push on process 2 %v; want seq %v naming two", p, push["seq"].(float64)+1)
	}

	// Process 1 still held its copy (its process did not die here): its next save finds
	// the snapshot claimed by process 2, so it lets the page go and tells its old socket
	// to reload, which would send the client to the new owner.
	for {
		f := sock.next(t)
		if f["type"] == "reload" {
			break
		}
		if f["type"] != "push" {
			t.Fatalf("process 1's old socket got %v; want pushes, then reload", f)
		}
	}
	if n := rt1.Current().Pages().ResidentCount(); n != 0 {
		t.Errorf("process 1 still holds %d resident pages after the move", n)
	}

	// Closed by its client: the snapshot goes.
	resp, err := moved.http.Post(s2.URL+"/_gnr/close", "application/json", strings.NewReader(fmt.Sprintf(`{"page_id":%q}`, moved.pageID)))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("close: %v %v", err, resp)
	}
	resp.Body.Close()
	bus, err := ipc.Connect(context.Background(), ipc.Config{URL: natsURL, Site: "shop", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close(context.Background())
	if _, _, ok, err := bus.Pages().LoadPage(context.Background(), alice.pageID); ok || err != nil {
		t.Fatalf("snapshot after close: present %v, err %v", ok, err)
	}
}

// TestPersistPageStore: the rebuilt page has the store the first process left.
func TestPersistPageStore(t *testing.T) {
	t.Setenv("GNRHOST_TEST_SECRET", "0123456789abcdef0123")
	t.Setenv("GNRHOST_TEST_EVENTS", notifyToken)
	file := natsPageSet(t, t.TempDir(), testpeer.EmbeddedNATS(t), "counter", ", persist: true")
	rt1, s1 := startProcess(t, file, 1)
	_, s2 := startProcess(t, file, 2)
	c := newCounterClient(t, s1.URL)
	for range 3 {
		if code, _, err := c.rpc("increment"); code != 200 || err != nil {
			t.Fatalf("increment: %d %v", code, err)
		}
	}
	rt1.Current().Pages().FlushSnapshots(context.Background())
	from, _ := url.Parse(s1.URL)
	to, _ := url.Parse(s2.URL)
	jar, _ := cookiejar.New(nil)
	jar.SetCookies(to, c.http.Jar.Cookies(from))
	moved := &counterClient{http: &http.Client{Jar: jar}, base: s2.URL, pageID: c.pageID}
	if n := moved.count(t); n != 3 {
		t.Fatalf("count on process 2 = %d; want the 3 process 1 left", n)
	}
}

// TestPersistPageSurvivesRestart: a process that shuts down leaves its persist pages'
// last state (saved on the way out, no flush asked for), and its next run rebuilds them.
func TestPersistPageSurvivesRestart(t *testing.T) {
	t.Setenv("GNRHOST_TEST_SECRET", "0123456789abcdef0123")
	t.Setenv("GNRHOST_TEST_EVENTS", notifyToken)
	file := natsPageSet(t, t.TempDir(), testpeer.EmbeddedNATS(t), "counter", ", persist: true")
	set, err := pluginset.Load(file, swapCatalog.PluginSetCatalog())
	if err != nil {
		t.Fatal(err)
	}
	first, err := host.NewRuntime(context.Background(), host.RuntimeOptions{Set: set, Catalog: swapCatalog,
		Logger: slog.New(slog.DiscardHandler), Process: session.Process(1)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(first)
	c := newCounterClient(t, srv.URL)
	for range 2 {
		if code, _, err := c.rpc("increment"); code != 200 || err != nil {
			t.Fatalf("increment: %d %v", code, err)
		}
	}
	srv.Close()
	if err := first.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, again := startProcess(t, file, 1)
	c.base = again.URL
	from, _ := url.Parse(srv.URL)
	to, _ := url.Parse(again.URL)
	c.http.Jar.SetCookies(to, c.http.Jar.Cookies(from))
	if n := c.count(t); n != 2 {
		t.Fatalf("count after the restart = %d; want 2", n)
	}
}

// TestPersistPageAcrossSwap: a swap hands a persist page to the next set of the same
// process, which goes on saving its snapshot (it does not take its own previous set for
// another process); another process then rebuilds the latest state.
func TestPersistPageAcrossSwap(t *testing.T) {
	t.Setenv("GNRHOST_TEST_SECRET", "0123456789abcdef0123")
	t.Setenv("GNRHOST_TEST_EVENTS", notifyToken)
	file := natsPageSet(t, t.TempDir(), testpeer.EmbeddedNATS(t), "counter", ", persist: true")
	rt1, s1 := startProcess(t, file, 1)
	_, s2 := startProcess(t, file, 2)
	c := newCounterClient(t, s1.URL)
	increment := func() {
		t.Helper()
		if code, _, err := c.rpc("increment"); code != 200 || err != nil {
			t.Fatalf("increment: %d %v", code, err)
		}
	}
	increment()
	increment()
	rt1.Current().Pages().FlushSnapshots(context.Background())
	if _, err := rt1.Swap(context.Background(), file); err != nil {
		t.Fatal(err)
	}
	increment()
	rt1.Current().Pages().FlushSnapshots(context.Background())
	if n := rt1.Current().Pages().ResidentCount(); n != 1 {
		t.Fatalf("after the swap process 1 holds %d pages; want the counter page", n)
	}
	from, _ := url.Parse(s1.URL)
	to, _ := url.Parse(s2.URL)
	jar, _ := cookiejar.New(nil)
	jar.SetCookies(to, c.http.Jar.Cookies(from))
	moved := &counterClient{http: &http.Client{Jar: jar}, base: s2.URL, pageID: c.pageID}
	if n := moved.count(t); n != 3 {
		t.Fatalf("count on process 2 = %d; want 3", n)
	}
}
