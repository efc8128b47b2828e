package e2e

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDemoPage starts the real halley binary, as README.md does, opens its
// demo page in Chromium and waits until the page shows a message published
// through the HTTP API.
func TestDemoPage(t *testing.T) {
	needBrowser(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "halley")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "../cmd/halley").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.CommandContext(ctx, bin, "--addr", "127.0.0.1:0")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	}()
	lines := bufio.NewScanner(stdout)
	var base string
	for lines.Scan() {
		if u, ok := strings.CutPrefix(lines.Text(), "halley: listening on "); ok {
			base = u
			break
		}
	}
	if base == "" {
		t.Fatal("no listening line from halley")
	}
	go io.Copy(io.Discard, stdout)

	shot := filepath.Join(os.TempDir(), "halley-demo.png")
	var result struct {
		Text string `json:"text"`
	}
	if err := node(ctx, &result, "demo.mjs", base+"/", shot); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(result.Text, "tick") || !strings.Contains(result.Text, "hello from the browser") {
		t.Fatalf("demo page shows %q; want a live tick and the published message", result.Text)
	}
	t.Logf("screenshot: %s", shot)
}
