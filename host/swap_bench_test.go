package host_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// reportSwapTimes reports p50 and p99 of the swap durations.
func reportSwapTimes(b *testing.B, d []time.Duration) {
	slices.Sort(d)
	p := func(q float64) float64 { return float64(d[int(q*float64(len(d)-1))].Microseconds()) / 1000 }
	b.ReportMetric(p(0.5), "p50-ms")
	b.ReportMetric(p(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkSwapSameRegistry: swaps between two sets that share registry-mem (kept
// running), with the WAT counter page route, and no live pages.
func BenchmarkSwapSameRegistry(b *testing.B) {
	dir := b.TempDir()
	a := counterSetB(b, dir, "a", "resident", "")
	c := counterSetB(b, dir, "c", "ephemeral", "")
	rt, _ := startRuntimeB(b, a)
	files := []string{c, a}
	var d []time.Duration
	i := 0
	for b.Loop() {
		start := time.Now()
		if _, err := rt.Swap(context.Background(), files[i%2]); err != nil {
			b.Fatal(err)
		}
		d = append(d, time.Since(start))
		i++
	}
	reportSwapTimes(b, d)
}

// BenchmarkSwapResidentToEphemeral10k: a resident set holding 10,000 live pages swaps to
// an ephemeral one (every page's store is written into the registry). Each round builds
// its 10,000 pages afresh; only the swap is timed.
func BenchmarkSwapResidentToEphemeral10k(b *testing.B) {
	const pages = 10000
	dir := b.TempDir()
	res := counterSetB(b, dir, "res", "resident", "")
	raw, _ := os.ReadFile(res)
	os.WriteFile(res, []byte(strings.Replace(string(raw), "lifecycle: resident}", "lifecycle: resident, max_per_connection: 20000}", 1)), 0o600)
	eph := counterSetB(b, dir, "eph", "ephemeral", "")
	var d []time.Duration
	for b.Loop() {
		b.StopTimer()
		rt, srv := startRuntimeB(b, res)
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar}
		for range pages {
			resp, err := c.Get(srv.URL + "/counter")
			if err != nil || resp.StatusCode != 200 {
				b.Fatalf("open page: %v %v", err, resp)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if n := rt.Current().Pages().ResidentCount(); n != pages {
			b.Fatalf("%d resident pages, want %d", n, pages)
		}
		b.StartTimer()
		start := time.Now()
		rec, err := rt.Swap(context.Background(), eph)
		d = append(d, time.Since(start))
		b.StopTimer()
		if err != nil || !strings.Contains(strings.Join(rec.Steps, ";"), "10000 resident pages handed over") {
			b.Fatalf("swap: %v %v", err, rec.Steps)
		}
		srv.Close()
		rt.Close(context.Background())
		b.StartTimer()
	}
	reportSwapTimes(b, d)
}

func counterSetB(b *testing.B, dir, name, lifecycle, extra string) string {
	b.Helper()
	return counterSetFile(b, dir, name, lifecycle, extra)
}
