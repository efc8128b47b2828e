package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

// TestMain says when the browser tests skip, so that a plain
// "go test ./..." does not print a bare "ok" for a package whose tests did
// not run. go test shows t.Skip only with -v, and drops a passing
// package's output, stderr too, except for its own "no tests to run"
// warning, which it turns into "ok … [no tests to run]" on the summary
// line: so TestMain writes the reason on stderr (seen with -v) and that
// warning, which is true here since every test of this package drives the
// browser (a test that does not should make this say so differently).
func TestMain(m *testing.M) {
	missing := missingTool()
	if missing != "" && os.Getenv("CI") == "" {
		fmt.Fprintf(os.Stderr, "e2e: SKIP: the browser tests need %s (run .ci/run, or install it)\n", missing)
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	if missing != "" && os.Getenv("CI") == "" && code == 0 {
		fmt.Println("\ntesting: warning: no tests to run")
	}
	os.Exit(code)
}

// missingTool names the first thing the browser tests need that is not
// installed, as needBrowser checks it; "" when nothing is missing.
func missingTool() string {
	switch {
	case lookPath("node") != nil:
		return "node"
	case stat("/usr/bin/chromium") != nil && os.Getenv("CHROMIUM") == "":
		return "chromium (apt-get install chromium)"
	case stat(filepath.Join("node_modules", "playwright-core")) != nil:
		return "playwright-core (npm ci in e2e/)"
	}
	return ""
}

func lookPath(name string) error { _, err := exec.LookPath(name); return err }

func stat(path string) error { _, err := os.Stat(path); return err }
