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
