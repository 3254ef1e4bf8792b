package testpeer

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// ChromiumPath is Debian's chromium (package chromium, installed by scripts/deps.sh).
const ChromiumPath = "/usr/bin/chromium"

// Chromium starts headless Chromium for t and returns an allocator context; each
// Browser made from it is a separate profile (its own cookies), like a separate user.
func Chromium(t testing.TB) context.Context {
	t.Helper()
	if _, err := exec.LookPath(ChromiumPath); err != nil {
		t.Fatalf("chromium not installed (%v): run scripts/deps.sh", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(ChromiumPath),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless,
		chromedp.NoSandbox, // tests run as root in CI
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		// The machine has no network beyond loopback: keep Chromium from trying.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter"),
	}
	alloc, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	// One browser process for the test; contexts below are tabs in it.
	browser, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return browser
}

// Browser opens a new incognito-like browser context (own cookies) in the browser.
func Browser(t testing.TB, browser context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	// The first run makes the tab, and the tab lives as long as that run's context: make
	// it here, with ctx itself, so later runs may use short timeouts.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open browser tab: %v", err)
	}
	return ctx
}

// Run runs actions in the browser tab ctx, failing t after 15 s or on an error.
func Run(t testing.TB, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// Eval evaluates a JS expression in the tab and returns its value.
func Eval[T any](t testing.TB, ctx context.Context, what, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// WaitJS polls a JS condition in the tab every 10 ms until it is true, failing t after
// timeout; it returns how long it took. An evaluation that fails (the tab is between
// two documents while it reloads) counts as false.
func WaitJS(t testing.TB, ctx context.Context, what, cond string, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	var lastErr error
	for {
		evalCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ok, err := chromedp.Run(evalCtx, chromedp.Evaluate[bool]("Boolean("+cond+")"))
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				t.Fatalf("%s: %v", what, err)
			}
			lastErr = err
		}
		if ok {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("%s: not within %s (last evaluation error: %v)", what, timeout, lastErr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TodoHas is a JS condition: the todo example's list shows an item with text.
func TodoHas(text string) string {
	return `Array.from(document.querySelectorAll("#items li")).some(li => li.textContent === ` + jsString(text) + `)`
}

// TodoAdd types text into the todo example's form and sends it.
func TodoAdd(t testing.TB, ctx context.Context, text string) {
	t.Helper()
	Run(t, ctx, "add "+text,
		chromedp.SetValue(chromedp.CSS("#text"), text),
		chromedp.Click(chromedp.CSS("#add")),
	)
}

func jsString(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }
