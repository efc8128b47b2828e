// Package e2e holds end-to-end tests in a real browser: Debian's Chromium,
// driven by playwright-core (installed with npm in this folder).
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// needBrowser skips the test when Chromium or playwright-core is missing,
// except in CI, where their absence is a failure: .ci/run installs both.
func needBrowser(t *testing.T) {
	t.Helper()
	var missing string
	if _, err := exec.LookPath("node"); err != nil {
		missing = "node"
	} else if _, err := os.Stat("/usr/bin/chromium"); err != nil && os.Getenv("CHROMIUM") == "" {
		missing = "chromium (apt-get install chromium)"
	} else if _, err := os.Stat(filepath.Join("node_modules", "playwright-core")); err != nil {
		missing = "playwright-core (npm ci in e2e/)"
	}
	if missing == "" {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("browser test needs %s, which .ci/run should have installed", missing)
	}
	t.Skipf("browser test skipped: %s is not installed (run .ci/run, or install it)", missing)
}

// browser runs browser.mjs on url and decodes the page's window.__result
// into result. screenshot, when not empty, is where a PNG of the page goes.
// It may run in any goroutine.
func browser(ctx context.Context, url, screenshot string, result any) error {
	return node(ctx, result, "browser.mjs", url, screenshot, "45000")
}

// node runs a script of this folder and decodes its JSON output.
func node(ctx context.Context, result any, script string, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{script}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("browser: %v\n%s", err, stderr.Bytes())
	}
	if err := json.Unmarshal(stdout.Bytes(), result); err != nil {
		return fmt.Errorf("browser result %q: %v\n%s", stdout.Bytes(), err, stderr.Bytes())
	}
	return nil
}

// page is a browser running a test page in the background: the page
// reports what it sees to the test's server (events), and its result
// comes once it sets window.__done.
type page[R any] struct {
	done   chan R
	failed chan error
}

// openPage runs browser on url in the background.
func openPage[R any](ctx context.Context, url string) *page[R] {
	p := &page[R]{done: make(chan R, 1), failed: make(chan error, 1)}
	go func() {
		var r R
		if err := browser(ctx, url, "", &r); err != nil {
			p.failed <- err
			return
		}
		p.done <- r
	}()
	return p
}

// await waits until the page reports want on events; a report for which
// bad is true (bad may be nil) fails the test.
func (p *page[R]) await(t *testing.T, ctx context.Context, events <-chan string, want string, bad func(string) bool) {
	t.Helper()
	for {
		select {
		case ev := <-events:
			if ev == want {
				return
			}
			if bad != nil && bad(ev) {
				t.Fatalf("the page reported %s while waiting for %s", ev, want)
			}
		case err := <-p.failed:
			t.Fatal(err)
		case <-ctx.Done():
			t.Fatalf("waiting for the page's %q: %v", want, ctx.Err())
		}
	}
}

// result waits for the page's result.
func (p *page[R]) result(t *testing.T, ctx context.Context) R {
	t.Helper()
	select {
	case r := <-p.done:
		return r
	case err := <-p.failed:
		t.Fatal(err)
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	panic("unreachable")
}
