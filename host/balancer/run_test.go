package balancer_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gnrhost/gnrhost/host/admin"
	"github.com/gnrhost/gnrhost/host/balancer"
	"github.com/gnrhost/gnrhost/host/pluginset"
	"github.com/gnrhost/gnrhost/host/session"
	"github.com/gnrhost/gnrhost/internal/testpeer"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testpeer.CleanupBuilds()
	os.Exit(code)
}

// Run in-process in front of real gnrhost processes: BeforeChildren runs first and its
// environment reaches every process (here the signing secret), scale goes both ways over
// the admin socket, and when the context ends the processes are gone before the hook's
// stop runs.
func TestRunHooksScaleAndShutdown(t *testing.T) {
	dir := t.TempDir()
	module := filepath.Join(testpeer.ModuleRoot(t), "examples/pages/counter/wat/counter.wasm")
	setPath := filepath.Join(dir, "set.yaml")
	yml := fmt.Sprintf("name: hooks\nregistry: {plugin: registry-mem}\nwasm: {cache_dir: %s}\npages:\n  - {route: /counter, module: %s, lifecycle: resident}\n",
		filepath.Join(dir, "cache"), module)
	if err := os.WriteFile(setPath, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	cat := pluginset.Catalog{"registry": {"registry-mem": nil}, "pages": {"wasm": nil}, "ipc": {"local": nil}, "legacy": {}, "processes": {}}
	set, err := pluginset.Load(setPath, cat)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	socket := filepath.Join(dir, "admin.sock")
	const secret = "the hook's secret, 16+ bytes"

	var mu sync.Mutex
	var hookRan, stopRan bool
	var pids []int
	var leftAtStop []int
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runErr := make(chan error, 1)
	go func() {
		runErr <- balancer.Run(ctx, balancer.Options{
			Set:         set,
			Listener:    ln,
			Processes:   2,
			Executable:  testpeer.Gnrhost(t),
			ServeArgs:   []string{"serve", "--log-format", "json"},
			AdminSocket: socket,
			Logger:      slog.New(slog.DiscardHandler),
			BeforeChildren: func(context.Context) ([]string, func(), error) {
				mu.Lock()
				hookRan = true
				mu.Unlock()
				return []string{session.EnvSecret + "=" + secret}, func() {
					mu.Lock()
					defer mu.Unlock()
					stopRan = true
					for _, pid := range pids {
						if !testpeer.ProcessGone(pid) {
							leftAtStop = append(leftAtStop, pid)
						}
					}
				}, nil
			},
		})
	}()
	base := "http://" + ln.Addr().String()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		select {
		case err := <-runErr:
			t.Fatalf("Run returned before ready: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the balancer was not ready within 60s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	if !hookRan {
		t.Error("BeforeChildren did not run")
	}
	mu.Unlock()

	// The processes sign with the secret the hook handed them.
	resp, err := http.Get(base + "/counter")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	signer, _ := session.NewSigner(set.Session.Cookie, []byte(secret))
	var signed bool
	for _, c := range resp.Cookies() {
		if c.Name == set.Session.Cookie {
			_, err := signer.Decode(c.Value)
			signed = err == nil
		}
	}
	if !signed {
		t.Errorf("the connection cookie is not signed with the hook's secret (cookies %v)", resp.Cookies())
	}

	client := admin.NewClient(socket, "")
	actx, acancel := context.WithTimeout(context.Background(), time.Minute)
	defer acancel()
	for _, n := range []int{3, 1} {
		rec, err := client.Scale(actx, n)
		if err != nil {
			t.Fatalf("scale %d: %v", n, err)
		}
		st, err := client.Status(actx)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Processes) != n || rec.To != n {
			t.Fatalf("after scale %d: %+v, status %+v", n, rec, st.Processes)
		}
		mu.Lock()
		for _, p := range st.Processes {
			pids = append(pids, p.PID)
		}
		mu.Unlock()
	}
	if _, err := client.Scale(actx, 0); err == nil {
		t.Error("scale 0 was accepted")
	}

	cancel()
	select {
	case err := <-runErr:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Run did not return within 60s of its context ending")
	}
	mu.Lock()
	defer mu.Unlock()
	if !stopRan || len(leftAtStop) > 0 {
		t.Errorf("hook stop ran: %v; processes still running when it ran: %v", stopRan, leftAtStop)
	}
	if _, err := os.Stat(socket); !os.IsNotExist(err) {
		t.Errorf("admin socket left behind: %v", err)
	}
}
