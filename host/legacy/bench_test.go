package legacy

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// BenchmarkProxyVsDirect requests a hello-world upstream on a unix socket directly and
// through the proxy, in alternating slices of one run so that load from elsewhere on the
// machine hits both alike, and reports for each the wall time and the process CPU time
// per request, and their ratios. The old httputil.ReverseProxy setup is measured in the
// same run for reference. "close" is a site that closes every connection (gunicorn's sync
// workers), "keepalive" one that keeps them (gthread). 32 concurrent clients, as in
// bench/legacy.sh.
//
//	go test -run '^$' -bench ProxyVsDirect -benchtime 20000x ./host/legacy/
func BenchmarkProxyVsDirect(b *testing.B) {
	for _, mode := range []string{"close", "keepalive"} {
		b.Run(mode, func(b *testing.B) {
			body := []byte("hello world\n")
			addr, _ := upstream(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if mode == "close" {
					w.Header().Set("Connection", "close")
				}
				w.Header().Set("Content-Type", "text/plain")
				w.Header().Set("Content-Length", "12")
				_, _ = w.Write(body)
			}))
			sock := strings.TrimPrefix(addr, "unix:")
			lean, _ := front(b, addr, Options{Logger: slog.New(slog.DiscardHandler)}, nil)
			old := httptest.NewServer(oldReverseProxy(sock))
			b.Cleanup(old.Close)

			sides := []*side{
				{name: "direct", url: "http://legacy/", client: unixClient(sock)},
				{name: "proxy", url: lean.URL + "/", client: tcpClient()},
				{name: "reverseproxy", url: old.URL + "/", client: tcpClient()},
			}
			for _, s := range sides {
				s.run(b, 200) // warm up connections and pools
				s.wall, s.cpu, s.n = 0, 0, 0
			}
			b.ResetTimer()
			const slice = 1000
			for done := 0; done < b.N; done += slice {
				n := min(slice, b.N-done)
				for _, s := range sides {
					s.run(b, n)
				}
			}
			b.StopTimer()
			direct := sides[0]
			for _, s := range sides {
				b.ReportMetric(float64(s.wall.Nanoseconds())/float64(s.n), s.name+"-ns/req")
				b.ReportMetric(float64(s.cpu.Microseconds())/float64(s.n), s.name+"-cpu-us/req")
			}
			for _, s := range sides[1:] {
				// Throughput ratio (as bench/legacy.sh prints it) and the CPU a proxied
				// request costs beyond a direct one.
				b.ReportMetric(float64(direct.wall)/float64(direct.n)/(float64(s.wall)/float64(s.n)), s.name+"/direct-throughput")
				b.ReportMetric((float64(s.cpu)/float64(s.n)-float64(direct.cpu)/float64(direct.n))/1e3, s.name+"-extra-cpu-us/req")
			}
		})
	}
}

// oldReverseProxy is the proxy as it was before the lean one (kept for comparison).
func oldReverseProxy(sock string) http.Handler {
	target := &url.URL{Scheme: "http", Host: "legacy"}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
		},
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "unix", sock)
			},
			MaxIdleConns:        512,
			MaxIdleConnsPerHost: 256,
			DisableCompression:  true,
		},
	}
}

type side struct {
	name   string
	url    string
	client *http.Client
	wall   time.Duration
	cpu    time.Duration
	n      int
}

const benchClients = 32

// run makes n requests from benchClients goroutines and adds their wall and CPU time.
func (s *side) run(b *testing.B, n int) {
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	cpu0 := processCPU()
	start := time.Now()
	for range benchClients {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				resp, err := s.client.Get(s.url)
				if err != nil {
					failed.Store(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Store(resp.Status)
					return
				}
			}
		})
	}
	wg.Wait()
	s.wall += time.Since(start)
	s.cpu += processCPU() - cpu0
	s.n += n
	if err := failed.Load(); err != nil {
		b.Fatalf("%s: %v", s.name, err)
	}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func tcpClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchClients, DisableCompression: true}}
}

func unixClient(sock string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
		MaxIdleConnsPerHost: benchClients,
		DisableCompression:  true,
	}}
}

// BenchmarkServeHTTP is the proxy's handler alone, called directly with a site that keeps
// connections alive: its allocations per request and time including the upstream round
// trip.
func BenchmarkServeHTTP(b *testing.B) {
	addr, _ := upstream(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "hello world\n")
	}))
	p, err := NewProxy(addr, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer p.CloseIdle()
	req := httptest.NewRequest(http.MethodGet, "http://site.example/page?x=1", nil)
	req.RemoteAddr = "10.0.0.1:5555"
	req.Header.Set("Cookie", "session=abc")
	req.Header.Set("Accept", "text/html")
	req.Header.Set("User-Agent", "bench")
	w := &discardWriter{h: make(http.Header)}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		clear(w.h)
		p.ServeHTTP(w, req)
		if w.code != 200 {
			b.Fatalf("status %d", w.code)
		}
	}
}

type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
