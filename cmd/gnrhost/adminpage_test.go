package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gnrhost/gnrhost/internal/testpeer"
)

// TestAdminPageInChromium signs in to the admin page with the token, reads the live set
// and the swap history, and rolls back with the button. With GNRHOST_ADMIN_SCREENSHOT=FILE
// it saves a screenshot of the page (docs/admin-page.png was made that way).
func TestAdminPageInChromium(t *testing.T) {
	dir := t.TempDir()
	addr := freePort(t)
	const token = "admin-page-token-0123456789"
	t.Setenv("GNRHOST_TEST_ADMIN_TOKEN", token)
	socket := filepath.Join(dir, "a.sock")
	first := writeSet(t, dir, "phase4-demo", fmt.Sprintf("registry: {plugin: registry-mem}\nadmin: {socket: %s, listen: %q, token_env: GNRHOST_TEST_ADMIN_TOKEN}\n", socket, addr))
	second := writeSet(t, dir, "phase5-demo", "registry: {plugin: registry-mem, mode: process}\n")
	testpeer.StartHost(t, "--plugins", first)
	if code, out, errOut := gnrhostCmd(t, "swap", "--admin", socket, second); code != 0 {
		t.Fatalf("swap: %d %s %s", code, out, errOut)
	}

	browser := testpeer.Browser(t, testpeer.Chromium(t))
	ctx, cancel := context.WithTimeout(browser, 30*time.Second)
	defer cancel()
	base := "http://" + addr
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/_gnr/admin"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=token]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=token]`), "wrong-token"),
		chromedp.Submit(chromedp.CSS(`input[name=token]`)),
		chromedp.WaitVisible(chromedp.CSS(`input[name=token]`)),
	); err != nil {
		t.Fatalf("login form: %v", err)
	}
	// The form is visible on the old page too: wait for the answer's text.
	for deadline := time.Now().Add(10 * time.Second); ; {
		body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
		if strings.Contains(body, "phase5-demo") {
			t.Fatalf("a wrong token shows the page: %q", body)
		}
		if strings.Contains(body, "Wrong token") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a wrong token the page shows %q", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`input[name=token]`), token),
		chromedp.Submit(chromedp.CSS(`input[name=token]`)),
		chromedp.WaitVisible(chromedp.CSS(`#set-name`)),
	); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	setName, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#set-name")))
	if err != nil || setName != "phase5-demo" {
		t.Fatalf("set name %q, %v", setName, err)
	}
	plugins, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#plugins")))
	history, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#history")))
	if !strings.Contains(plugins, "registry-mem") || !strings.Contains(plugins, "process") || !strings.Contains(history, "phase4-demo") {
		t.Errorf("plugins %q / history %q", plugins, history)
	}
	if path := os.Getenv("GNRHOST_ADMIN_SCREENSHOT"); path != "" {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#rollback")),
		chromedp.WaitVisible(chromedp.CSS("#message")),
	); err != nil {
		t.Fatalf("rollback button: %v", err)
	}
	msg, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#message")))
	setName, _ = chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#set-name")))
	if !strings.Contains(msg, "Rolled back to phase4-demo") || setName != "phase4-demo" {
		t.Errorf("after rollback: message %q, set %q", msg, setName)
	}
	if st := statusOf(t, socket); st.Set.Name != "phase4-demo" {
		t.Errorf("status after the page's rollback: %q", st.Set.Name)
	}
}
