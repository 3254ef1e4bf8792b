package legacywsgi

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gnrhost/gnrhost/internal/testpeer"
)

// The Genropy miniature in examples/legacy (app.py + gnrsite.py) run by the plugin under
// gunicorn, with its connections and pages in the gnrdaemon stand-in over Pyro4.

const (
	gnrSiteName   = "minisite"
	gnrSiteSecret = "a-cookie-secret-for-tests"
	gnrDaemonKey  = "daemon-hmac-key"
	gnrUserAgent  = "gnrhost-test Firefox/128.0"
	gnrClientIP   = "203.0.113.7"
)

var gnrIDRE = regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`)

// lockedBuffer collects the site's log for a failing test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type genropySite struct {
	client *http.Client
}

func daemonEnv(d *testpeer.Gnrdaemon) map[string]string {
	return map[string]string{
		"GNR_DAEMON_URI":  d.URI,
		"GNR_DAEMON_HMAC": d.Key,
		"GNR_SITE_NAME":   gnrSiteName,
		"GNR_SITE_SECRET": gnrSiteSecret,
	}
}

// startGenropySite runs examples/legacy (copied to a temp dir) with env, on two gthread
// workers of four threads, so requests of one connection reach different processes and
// threads (each with its own Pyro4 proxy).
func startGenropySite(t *testing.T, env map[string]string) *genropySite {
	t.Helper()
	testpeer.RequirePython(t, "gunicorn")
	testpeer.RequirePyro4(t)
	dir := t.TempDir()
	for _, f := range []string{"app.py", "gnrsite.py"} {
		b, err := os.ReadFile(filepath.Join(testpeer.ModuleRoot(t), "examples/legacy", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	raw, _ := json.Marshal(map[string]any{
		"app": "app:application", "workers": 2, "worker_class": "gthread", "threads": 4,
		"env": env, "restart_initial": "50ms", "graceful_timeout": "2s",
	})
	logs := &lockedBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("site log:\n%s", logs.String())
		}
	})
	app, err := Factory.New(context.Background(), raw, dir, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = app.Close() })
	sock := strings.TrimPrefix(app.Address(), "unix:")
	return &genropySite{client: &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}}
}

type gnrReply struct {
	code   int
	header http.Header
	body   string
	setID  string // connection id of a Set-Cookie for the site, if any
	cookie *http.Cookie
}

// do sends method path with cookie ("" for none) and, for POST, form urlencoded.
func (s *genropySite) do(method, path, cookie string, form url.Values) (gnrReply, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, "http://legacy"+path, body)
	if err != nil {
		return gnrReply{}, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if cookie != "" {
		req.Header.Set("Cookie", gnrSiteName+"="+cookie)
	}
	req.Header.Set("User-Agent", gnrUserAgent)
	req.Header.Set("X-Forwarded-For", gnrClientIP)
	resp, err := s.client.Do(req)
	if err != nil {
		return gnrReply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return gnrReply{}, err
	}
	r := gnrReply{code: resp.StatusCode, header: resp.Header, body: string(b)}
	for _, c := range resp.Cookies() {
		if c.Name == gnrSiteName {
			r.cookie = c
			r.setID, _, _ = strings.Cut(c.Value, ".")
		}
	}
	return r, nil
}

func (s *genropySite) must(t *testing.T, method, path, cookie string, form url.Values) gnrReply {
	t.Helper()
	r, err := s.do(method, path, cookie, form)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// page opens a page (GET path) with cookie and returns its id and the cookie to use next.
func (s *genropySite) page(t *testing.T, path, cookie string) (pageID, nextCookie string) {
	t.Helper()
	r := s.must(t, "GET", path, cookie, nil)
	if r.code != 200 {
		t.Fatalf("GET %s: %d %s", path, r.code, r.body)
	}
	pageID = r.header.Get("X-Gnr-Page-Id")
	if !gnrIDRE.MatchString(pageID) {
		t.Fatalf("GET %s: X-Gnr-Page-Id %q is not a 22-character id", path, pageID)
	}
	if !strings.Contains(r.body, `<meta name="gnr-page-id" content="`+pageID+`">`) {
		t.Fatalf("GET %s: the HTML does not embed page id %s:\n%s", path, pageID, r.body)
	}
	if r.cookie != nil {
		return pageID, r.cookie.Value
	}
	return pageID, cookie
}

// gnrEnvelope is the XML reply of RPCs and pings.
type gnrEnvelope struct {
	XMLName xml.Name `xml:"GenRoBag"`
	Error   *string  `xml:"error"`
	Result  *string  `xml:"result"`
	Changes *struct {
		Items []gnrChange `xml:",any"`
	} `xml:"dataChanges"`
}

type gnrChange struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Value   string     `xml:",chardata"`
}

func (c gnrChange) attr(name string) (string, bool) {
	for _, a := range c.Attrs {
		if a.Name.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

func parseEnvelope(t *testing.T, r gnrReply) gnrEnvelope {
	t.Helper()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/xml") {
		t.Fatalf("Content-Type %q, want text/xml; body %s", ct, r.body)
	}
	if !strings.HasPrefix(r.body, "<?xml ") {
		t.Fatalf("no XML declaration: %s", r.body)
	}
	var e gnrEnvelope
	if err := xml.Unmarshal([]byte(r.body), &e); err != nil {
		t.Fatalf("envelope %s: %v", r.body, err)
	}
	return e
}

func (e gnrEnvelope) changes() []gnrChange {
	if e.Changes == nil {
		return nil
	}
	return e.Changes.Items
}

// call makes an RPC and returns its envelope, which must be a 200 with a result and
// a dataChanges element.
func (s *genropySite) call(t *testing.T, path, cookie, pageID, method string, fields ...string) gnrEnvelope {
	t.Helper()
	form := url.Values{"page_id": {pageID}, "method": {method}}
	for i := 0; i+1 < len(fields); i += 2 {
		form.Set(fields[i], fields[i+1])
	}
	r := s.must(t, "POST", path, cookie, form)
	if r.code != 200 {
		t.Fatalf("rpc %s: %d %s", method, r.code, r.body)
	}
	e := parseEnvelope(t, r)
	if e.Result == nil || e.Changes == nil {
		t.Fatalf("rpc %s: envelope without result or dataChanges: %s", method, r.body)
	}
	return e
}

func (s *genropySite) rpcResult(t *testing.T, path, cookie, pageID, method string, into any, fields ...string) {
	t.Helper()
	e := s.call(t, path, cookie, pageID, method, fields...)
	if e.Error != nil {
		t.Fatalf("rpc %s: error %q", method, *e.Error)
	}
	if err := json.Unmarshal([]byte(*e.Result), into); err != nil {
		t.Fatalf("rpc %s: result %q: %v", method, *e.Result, err)
	}
}

func (s *genropySite) ping(t *testing.T, cookie, pageID string) []gnrChange {
	t.Helper()
	r := s.must(t, "POST", "/_ping", cookie, url.Values{"page_id": {pageID}})
	if r.code != 200 {
		t.Fatalf("ping %s: %d %s", pageID, r.code, r.body)
	}
	e := parseEnvelope(t, r)
	if e.Error != nil || e.Changes == nil {
		t.Fatalf("ping %s: %s", pageID, r.body)
	}
	return e.changes()
}

func gnrSignature(secret, connectionID string) string {
	m := hmac.New(sha1.New, []byte(secret))
	m.Write([]byte(connectionID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkCookie asserts the format of a connection cookie and returns its connection id.
func checkCookie(t *testing.T, c *http.Cookie) string {
	t.Helper()
	if c == nil {
		t.Fatal("no connection cookie set")
	}
	id, sig, ok := strings.Cut(c.Value, ".")
	if !ok || !gnrIDRE.MatchString(id) {
		t.Fatalf("cookie value %q: want <22-char connection id>.<signature>", c.Value)
	}
	if want := gnrSignature(gnrSiteSecret, id); sig != want {
		t.Fatalf("cookie signature %q, want HMAC-SHA1 %q", sig, want)
	}
	if !c.HttpOnly || c.Path != "/" {
		t.Fatalf("cookie attributes: HttpOnly=%v Path=%q", c.HttpOnly, c.Path)
	}
	return id
}

type whoami struct {
	PageID           string   `json:"page_id"`
	Pagename         string   `json:"pagename"`
	ConnectionID     string   `json:"connection_id"`
	User             string   `json:"user"`
	SubscribedTables []string `json:"subscribed_tables"`
	RelativeURL      string   `json:"relative_url"`
	ConnectionName   string   `json:"connection_name"`
	BrowserName      string   `json:"browser_name"`
	ConnectionUser   string   `json:"connection_user"`
}

func TestGenropySite(t *testing.T) {
	d := testpeer.StartGnrdaemon(t, gnrDaemonKey, 0)
	s := startGenropySite(t, daemonEnv(d))

	// The first connection and page, used by the subtests below.
	r := s.must(t, "GET", "/pages/index", "", nil)
	if r.code != 200 {
		t.Fatalf("GET /pages/index: %d %s", r.code, r.body)
	}
	connID := checkCookie(t, r.cookie)
	cookie := r.cookie.Value
	pageID := r.header.Get("X-Gnr-Page-Id")

	t.Run("guest connection and page in gnrdaemon", func(t *testing.T) {
		if !gnrIDRE.MatchString(pageID) || pageID == connID {
			t.Fatalf("page id %q", pageID)
		}
		var w whoami
		s.rpcResult(t, "/pages/index", cookie, pageID, "whoami", &w)
		want := whoami{PageID: pageID, Pagename: "index", ConnectionID: connID, User: "guest_" + connID,
			SubscribedTables: []string{}, RelativeURL: "/pages/index",
			ConnectionName: "203_0_113_7_Firefox", BrowserName: "Firefox", ConnectionUser: "guest_" + connID}
		if fmt.Sprint(w) != fmt.Sprint(want) {
			t.Fatalf("whoami\n got %+v\nwant %+v", w, want)
		}
	})

	t.Run("a valid cookie keeps its connection", func(t *testing.T) {
		r := s.must(t, "GET", "/pages/other", cookie, nil)
		if r.code != 200 || r.cookie != nil {
			t.Fatalf("GET with a valid cookie: %d, Set-Cookie %v", r.code, r.cookie)
		}
		p2 := r.header.Get("X-Gnr-Page-Id")
		if p2 == pageID {
			t.Fatal("the same page id twice")
		}
		var w whoami
		s.rpcResult(t, "/pages/other", cookie, p2, "whoami", &w)
		if w.ConnectionID != connID || w.Pagename != "other" {
			t.Fatalf("second page: %+v", w)
		}
	})

	t.Run("a tampered cookie gets a new connection", func(t *testing.T) {
		id, sig, _ := strings.Cut(cookie, ".")
		flip := func(s string) string {
			last := s[len(s)-1]
			if last == 'A' {
				return s[:len(s)-1] + "B"
			}
			return s[:len(s)-1] + "A"
		}
		for name, bad := range map[string]string{
			"signature changed":     id + "." + flip(sig),
			"connection id changed": flip(id) + "." + sig,
			"another secret":        id + "." + gnrSignature("another-secret", id),
			"no signature":          id,
			"garbage":               "x",
			"non-ASCII signature":   id + ".\u00e9" + sig[1:],
		} {
			r := s.must(t, "GET", "/pages/index", bad, nil)
			if r.code != 200 {
				t.Fatalf("%s: %d %s", name, r.code, r.body)
			}
			newID := checkCookie(t, r.cookie)
			if newID == connID {
				t.Fatalf("%s: the tampered cookie kept connection %s", name, connID)
			}
			// Nor does it open the original connection's pages.
			if r := s.must(t, "POST", "/_ping", bad, url.Values{"page_id": {pageID}}); r.code != 403 {
				t.Fatalf("%s: ping of the original page: %d %s", name, r.code, r.body)
			}
		}
	})

	t.Run("rpc echo", func(t *testing.T) {
		var got map[string]string
		s.rpcResult(t, "/pages/index", cookie, pageID, "echo", &got, "value", "héllo <&>", "n", "2", "_internal", "x")
		if fmt.Sprint(got) != fmt.Sprint(map[string]string{"value": "héllo <&>", "n": "2"}) {
			t.Fatalf("echo: %v", got)
		}
	})

	t.Run("rpc errors", func(t *testing.T) {
		e := s.call(t, "/pages/index", cookie, pageID, "nope")
		if e.Error == nil || *e.Error != "missing handler: nope" || *e.Result != "null" {
			t.Fatalf("unknown method: %+v", e)
		}
		e = s.call(t, "/pages/index", cookie, pageID, "setValue", "value", "no path")
		if e.Error == nil || !strings.Contains(*e.Error, "setValue") || !strings.Contains(*e.Error, "path") {
			t.Fatalf("missing argument: %+v", e)
		}
		other, otherCookie := s.page(t, "/pages/index", "")
		for name, c := range map[string]struct {
			cookie, page, method string
			want                 int
		}{
			"another connection's page": {cookie, other, "echo", 403},
			"my page, their cookie":     {otherCookie, pageID, "echo", 403},
			"no cookie":                 {"", pageID, "echo", 403},
			"unknown page":              {cookie, "AAAAAAAAAAAAAAAAAAAAAA", "echo", 404},
			"malformed page id":         {cookie, "short", "echo", 400},
			"malformed method":          {cookie, pageID, "bad-name", 400},
		} {
			r := s.must(t, "POST", "/pages/index", c.cookie, url.Values{"page_id": {c.page}, "method": {c.method}})
			if r.code != c.want {
				t.Fatalf("%s: %d, want %d: %s", name, r.code, c.want, r.body)
			}
			if e := parseEnvelope(t, r); e.Error == nil || *e.Error == "" {
				t.Fatalf("%s: no error in %s", name, r.body)
			}
			ping := s.must(t, "POST", "/_ping", c.cookie, url.Values{"page_id": {c.page}})
			if c.method == "echo" && ping.code != c.want {
				t.Fatalf("%s: ping %d, want %d: %s", name, ping.code, c.want, ping.body)
			}
		}
		if r := s.must(t, "GET", "/pages/index?subscribe=notatable", cookie, nil); r.code != 400 {
			t.Fatalf("bad subscribe: %d %s", r.code, r.body)
		}
		if r := s.must(t, "PUT", "/pages/index", cookie, nil); r.code != 405 {
			t.Fatalf("PUT: %d %s", r.code, r.body)
		}
	})

	t.Run("setValue then ping", func(t *testing.T) {
		e := s.call(t, "/pages/index", cookie, pageID, "setValue", "path", "test.greeting", "value", "hi", "reason", "tst")
		if e.Error != nil || len(e.changes()) != 0 {
			t.Fatalf("setValue: %+v", e)
		}
		changes := s.ping(t, cookie, pageID)
		if len(changes) != 1 {
			t.Fatalf("ping: %d changes, want 1: %+v", len(changes), changes)
		}
		c := changes[0]
		path, _ := c.attr("change_path")
		reason, _ := c.attr("change_reason")
		fired, _ := c.attr("change_fired")
		idx, _ := c.attr("change_idx")
		if n, err := strconv.Atoi(idx); err != nil || n < 1 || path != "test.greeting" || c.Value != `"hi"` ||
			reason != "tst" || fired != "false" || c.XMLName.Local != "sc_0" {
			t.Fatalf("datachange %+v", c)
		}
		if changes := s.ping(t, cookie, pageID); len(changes) != 0 {
			t.Fatalf("second ping: %+v, want none (reset)", changes)
		}
	})

	t.Run("dbevents reach subscribed pages only", func(t *testing.T) {
		subscribed, cookieA := s.page(t, "/pages/todo?subscribe=todo.item,other.table", "")
		unsubscribed, _ := s.page(t, "/pages/todo", cookieA)
		otherTable, _ := s.page(t, "/pages/todo?subscribe=other.table", cookieA)
		elsewhere, cookieB := s.page(t, "/pages/list?subscribe=todo.item", "")
		var w whoami
		s.rpcResult(t, "/pages/todo", cookieA, subscribed, "whoami", &w)
		if fmt.Sprint(w.SubscribedTables) != "[todo.item other.table]" {
			t.Fatalf("subscribed_tables %v", w.SubscribedTables)
		}

		e := s.call(t, "/pages/todo", cookieA, unsubscribed, "notifyDb", "table", "todo.item", "pkey", "42")
		if e.Error != nil {
			t.Fatalf("notifyDb: %s", *e.Error)
		}
		check := func(cookie, page string) {
			t.Helper()
			changes := s.ping(t, cookie, page)
			if len(changes) != 1 {
				t.Fatalf("page %s: %d changes, want 1: %+v", page, len(changes), changes)
			}
			c := changes[0]
			path, _ := c.attr("change_path")
			attrs, _ := c.attr("change_attr")
			var events []map[string]string
			var a map[string]string
			if path != "gnr.dbchanges.todo_item" || json.Unmarshal([]byte(c.Value), &events) != nil ||
				fmt.Sprint(events) != "[map[dbevent:U pkey:42]]" || json.Unmarshal([]byte(attrs), &a) != nil ||
				a["from_page_id"] != unsubscribed || a["dbevent_reason"] != "todo" {
				t.Fatalf("page %s: dbchange %+v", page, c)
			}
		}
		check(cookieA, subscribed)
		check(cookieB, elsewhere) // another connection's page subscribed to the table
		for _, p := range []string{unsubscribed, otherTable} {
			if changes := s.ping(t, cookieA, p); len(changes) != 0 {
				t.Fatalf("unsubscribed page %s got %+v", p, changes)
			}
		}

		// An RPC reply carries what was pending when the call came; the ping then has none.
		s.call(t, "/pages/todo", cookieA, unsubscribed, "notifyDb", "table", "other.table", "pkey", "7")
		e = s.call(t, "/pages/todo", cookieA, subscribed, "echo")
		if len(e.changes()) != 1 {
			t.Fatalf("rpc reply after a dbevent: %+v", e.changes())
		}
		if path, _ := e.changes()[0].attr("change_path"); path != "gnr.dbchanges.other_table" {
			t.Fatalf("rpc reply change at %q", path)
		}
		if changes := s.ping(t, cookieA, subscribed); len(changes) != 0 {
			t.Fatalf("ping after the rpc reply took the change: %+v", changes)
		}
		check2 := s.ping(t, cookieA, otherTable)
		if len(check2) != 1 {
			t.Fatalf("other.table page: %+v", check2)
		}
	})

	t.Run("concurrent connections", func(t *testing.T) {
		const n = 16
		errs := make(chan error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- concurrentClient(s, i)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
	})
}

// concurrentClient opens a page on a new connection, sets a value and reads it back.
func concurrentClient(s *genropySite, i int) error {
	r, err := s.do("GET", "/pages/index", "", nil)
	if err != nil || r.code != 200 || r.cookie == nil {
		return fmt.Errorf("client %d: GET: %v %d %s", i, err, r.code, r.body)
	}
	cookie, page := r.cookie.Value, r.header.Get("X-Gnr-Page-Id")
	value := fmt.Sprintf("client-%d", i)
	r, err = s.do("POST", "/pages/index", cookie, url.Values{"page_id": {page}, "method": {"setValue"},
		"path": {"c.v"}, "value": {value}})
	if err != nil || r.code != 200 || strings.Contains(r.body, "<error>") {
		return fmt.Errorf("client %d: setValue: %v %d %s", i, err, r.code, r.body)
	}
	r, err = s.do("POST", "/_ping", cookie, url.Values{"page_id": {page}})
	if err != nil || r.code != 200 || !strings.Contains(r.body, `change_path="c.v"`) ||
		!strings.Contains(r.body, `>"`+value+`"</sc_0>`) || strings.Contains(r.body, "<sc_1") {
		return fmt.Errorf("client %d: ping: %v %d %s", i, err, r.code, r.body)
	}
	return nil
}

func TestGenropySiteDaemonDown(t *testing.T) {
	d := testpeer.StartGnrdaemon(t, gnrDaemonKey, 0)
	s := startGenropySite(t, daemonEnv(d))
	page, cookie := s.page(t, "/pages/index", "")
	oldID, _, _ := strings.Cut(cookie, ".")

	d.Kill()
	r := s.must(t, "GET", "/pages/index", cookie, nil)
	if r.code != 503 || !strings.Contains(r.body, "gnrdaemon unavailable at "+d.URI) || strings.Contains(r.body, "Traceback") {
		t.Fatalf("GET with the daemon down: %d %s", r.code, r.body)
	}
	r = s.must(t, "POST", "/_ping", cookie, url.Values{"page_id": {page}})
	if r.code != 503 {
		t.Fatalf("ping with the daemon down: %d %s", r.code, r.body)
	}
	if e := parseEnvelope(t, r); e.Error == nil || !strings.Contains(*e.Error, "gnrdaemon unavailable") {
		t.Fatalf("ping with the daemon down: %s", r.body)
	}
	if r := s.must(t, "GET", "/", "", nil); r.code != 200 {
		t.Fatalf("/ with the daemon down: %d", r.code)
	}

	// A daemon back on the same address: each worker thread whose proxy broke answers
	// 503 once, then reconnects. The restarted daemon knows no connection: a new one.
	testpeer.StartGnrdaemon(t, gnrDaemonKey, d.Port)
	deadline := time.Now().Add(20 * time.Second)
	for {
		r = s.must(t, "GET", "/pages/index", cookie, nil)
		if r.code == 200 {
			break
		}
		if r.code != 503 || time.Now().After(deadline) {
			t.Fatalf("after the daemon restarted: %d %s", r.code, r.body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if newID := checkCookie(t, r.cookie); newID == oldID {
		t.Fatal("a connection the restarted daemon does not know was kept")
	}
}

func TestGenropySiteNotConfigured(t *testing.T) {
	t.Run("no daemon configured", func(t *testing.T) {
		s := startGenropySite(t, nil)
		for _, m := range []string{"GET", "POST"} {
			r := s.must(t, m, "/pages/index", "", url.Values{})
			if r.code != 503 || !strings.Contains(r.body, "GNR_DAEMON_URI") {
				t.Fatalf("%s /pages/index unconfigured: %d %s", m, r.code, r.body)
			}
		}
		if r := s.must(t, "POST", "/_ping", "", url.Values{}); r.code != 503 || !strings.Contains(r.body, "GNR_SITE_SECRET") {
			t.Fatalf("/_ping unconfigured: %d %s", r.code, r.body)
		}
		if r := s.must(t, "GET", "/", "", nil); r.code != 200 {
			t.Fatalf("/: %d", r.code)
		}
	})
	t.Run("wrong hmac key", func(t *testing.T) {
		d := testpeer.StartGnrdaemon(t, gnrDaemonKey, 0)
		env := daemonEnv(d)
		env["GNR_DAEMON_HMAC"] = "not-the-key"
		s := startGenropySite(t, env)
		r := s.must(t, "GET", "/pages/index", "", nil)
		if r.code != 503 || !strings.Contains(r.body, "hmac") {
			t.Fatalf("wrong key: %d %s", r.code, r.body)
		}
	})
}
