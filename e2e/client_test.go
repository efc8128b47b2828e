package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// halleyBin builds the halley binary once for the tests of this file.
var halleyBin = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "halley-e2e-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "halley")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/halley").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// server is a halley process, as README.md runs it.
type server struct {
	t    *testing.T
	cmd  *exec.Cmd
	addr string // host:port
}

// startHalley runs halley with args on addr ("127.0.0.1:0" for a free port)
// and waits until it listens.
func startHalley(t *testing.T, addr string, args ...string) *server {
	t.Helper()
	bin, err := halleyBin()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"--addr", addr}, args...)...)
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, cmd: cmd}
	t.Cleanup(s.stop)
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		if u, ok := strings.CutPrefix(lines.Text(), "halley: listening on http://"); ok {
			s.addr = u
			break
		}
	}
	if s.addr == "" {
		t.Fatal("no listening line from halley")
	}
	go io.Copy(io.Discard, stdout)
	return s
}

func (s *server) url() string { return "http://" + s.addr }

// stop ends the process (it is ours: by its PID) and waits for it.
func (s *server) stop() {
	if s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	_ = s.cmd.Wait()
}

// scenario runs client.mjs SCENARIO URL [screenshot]; onStep answers the
// script's steps. It decodes the scenario's result into result.
func scenario(t *testing.T, ctx context.Context, name, url, shot string, env []string, onStep func(step string), result any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 150*time.Second)
	defer cancel()
	args := []string{"client.mjs", name, url}
	if shot != "" {
		args = append(args, shot)
	}
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Env = append(os.Environ(), env...)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var res json.RawMessage
	lines := bufio.NewScanner(stdout)
	lines.Buffer(nil, 16<<20)
	for lines.Scan() {
		var line struct {
			Step   string          `json:"step"`
			Result json.RawMessage `json:"result"`
		}
		if err := json.Unmarshal(lines.Bytes(), &line); err != nil {
			t.Logf("node: %s", lines.Text())
			continue
		}
		if line.Step != "" {
			onStep(line.Step)
			fmt.Fprintln(stdin, "go")
			continue
		}
		res = line.Result
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("scenario %s: %v\n%s", name, err, stderr.Bytes())
	}
	if err := json.Unmarshal(res, result); err != nil {
		t.Fatalf("scenario %s result %q: %v\n%s", name, res, err, stderr.Bytes())
	}
}

func noSteps(string) {}

// TestClient_ChatBetweenPages: two pages of two browsers chat through the
// demo's bus; every line reaches both, tagged with its writer by the
// bus's filter, and the pages log no error.
func TestClient_ChatBetweenPages(t *testing.T) {
	needBrowser(t)
	s := startHalley(t, "127.0.0.1:0", "--api-key", "s3cret") // the page never uses the API
	var r struct {
		A, B   [][2]string
		Errors []string
	}
	scenario(t, t.Context(), "chat", s.url()+"/", "", nil, noSteps, &r)
	writer := func(lines [][2]string, text string) string {
		for _, l := range lines {
			if strings.Contains(l[1], text) {
				return l[0]
			}
		}
		return ""
	}
	for _, page := range [][][2]string{r.A, r.B} {
		ann, bob := writer(page, "hello from Ann"), writer(page, "hi Ann, Bob here")
		if ann == "" || bob == "" || ann == bob {
			t.Errorf("a page shows %q: want both lines, tagged with two writers", page)
		}
	}
	if writer(r.A, "hello from Ann") != writer(r.B, "hello from Ann") {
		t.Errorf("the pages tag Ann's line differently: %q, %q", r.A, r.B)
	}
	if len(r.Errors) > 0 {
		t.Errorf("console errors: %q", r.Errors)
	}
}

// TestClient_NotificationsByKey: a notification reaches only the page
// listening on its key, and no longer after unlisten.
func TestClient_NotificationsByKey(t *testing.T) {
	needBrowser(t)
	s := startHalley(t, "127.0.0.1:0")
	var r struct {
		A, B   string
		Errors []string
	}
	scenario(t, t.Context(), "notify", s.url()+"/", "", nil, noSteps, &r)
	if !strings.Contains(r.A, "marker one for alpha") || strings.Contains(r.A, "marker one for beta") {
		t.Errorf("page A (alpha) shows:\n%s\nwant alpha's notification only", r.A)
	}
	if !strings.Contains(r.B, "marker one for beta") || strings.Contains(r.B, "marker one for alpha") {
		t.Errorf("page B (beta) shows:\n%s\nwant beta's notification only", r.B)
	}
	if strings.Contains(r.A, "marker two for alpha") || !strings.Contains(r.A, "marker two for gamma") {
		t.Errorf("page A after unlisten(alpha), listen(gamma) shows:\n%s", r.A)
	}
	if len(r.Errors) > 0 {
		t.Errorf("console errors: %q", r.Errors)
	}
}

// TestClient_FallbackWhenWebSocketBlocked: with WebSocket blocked, the
// page falls back to SSE and receives every message, in order.
func TestClient_FallbackWhenWebSocketBlocked(t *testing.T) {
	needBrowser(t)
	s := startHalley(t, "127.0.0.1:0")
	var r struct {
		State struct{ Name, Transport string }
		News  []int
		Chat  string
	}
	scenario(t, t.Context(), "fallback", s.url()+"/", "", nil, noSteps, &r)
	if r.State.Name != "connected" || r.State.Transport != "sse" {
		t.Errorf("state %+v, want connected over sse", r.State)
	}
	if !strings.Contains(r.Chat, "sent over SSE") {
		t.Errorf("chat shows %q", r.Chat)
	}
	if len(r.News) < 4 {
		t.Fatalf("news offsets %v: want the last messages and three more", r.News)
	}
	for i := 1; i < len(r.News); i++ {
		if r.News[i] != r.News[i-1]+1 {
			t.Fatalf("news offsets %v: a hole or a duplicate at %d", r.News, i)
		}
	}
}

// TestClient_ServerRestart: the server restarts (a fresh process, the
// same named bus); the page reconnects, shows an explicit gap for what
// the restart lost (the bus's new epoch), and chats again.
func TestClient_ServerRestart(t *testing.T) {
	needBrowser(t)
	for _, tr := range []string{"", "sse", "poll"} {
		t.Run("transport="+tr, func(t *testing.T) {
			s := startHalley(t, "127.0.0.1:0")
			var r struct {
				Chat  string
				Stats struct{ Reconnects, Resumes, Gaps int }
				State struct{ Name string }
			}
			scenario(t, t.Context(), "restart", s.url()+"/", "", []string{"HALLEY_TRANSPORT=" + tr}, func(step string) {
				if step == "restart" {
					s.stop()
					s = startHalley(t, s.addr)
				}
			}, &r)
			if !strings.Contains(r.Chat, "after the restart") || !strings.Contains(r.Chat, "unknown_position") {
				t.Errorf("chat shows:\n%s\nwant the gap and the line after", r.Chat)
			}
			if r.Stats.Gaps < 1 {
				t.Errorf("stats %+v: want gaps", r.Stats)
			}
			// A stream breaks and is made again. Long polls may not: the
			// old server answers a waiting poll at shutdown, and the next
			// one, with the same cursor, may reach the new server.
			if tr != "poll" && (r.Stats.Reconnects < 1 || r.Stats.Resumes < 1) {
				t.Errorf("stats %+v: want a reconnect and a resume", r.Stats)
			}
		})
	}
}

// TestDemoPage_Screenshot opens the demo in two pages, uses every panel,
// and takes a screenshot (in $HALLEY_SCREENSHOT_DIR, else the test's
// temporary folder) that shows them all live.
func TestDemoPage_Screenshot(t *testing.T) {
	needBrowser(t)
	s := startHalley(t, "127.0.0.1:0", "--api-key", "s3cret")
	dir := os.Getenv("HALLEY_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	shot := filepath.Join(dir, "halley-demo.png")
	var r struct {
		Text   map[string]string
		Errors []string
	}
	// The page never uses the API; the scenario's own notification does, with the key.
	scenario(t, t.Context(), "screenshot", s.url()+"/", shot, []string{"HALLEY_API_KEY=s3cret"}, noSteps, &r)
	for id, want := range map[string]string{
		"state": "connected", "news-gap": "channel_full", "chat": "hello from the other tab",
		"docs": "a live edit", "lazy": "#",
	} {
		if !strings.Contains(r.Text[id], want) {
			t.Errorf("#%s shows %q, want %q", id, r.Text[id], want)
		}
	}
	if r.Text["counter"] == "–" || r.Text["conns"] == "–" {
		t.Errorf("counter %q, connections %q: want live numbers", r.Text["counter"], r.Text["conns"])
	}
	if len(r.Errors) > 0 {
		t.Errorf("console errors: %q", r.Errors)
	}
	t.Logf("screenshot: %s", shot)
}

// TestClient_SwitchTransports: switching the demo page from WebSocket to
// SSE, long-poll and back keeps the positions: every news message once,
// in order, and the chat lines written over each.
func TestClient_SwitchTransports(t *testing.T) {
	needBrowser(t)
	s := startHalley(t, "127.0.0.1:0")
	var r struct {
		News, Chat []int
		Stats      struct{ Reconnects, Resumes int }
		Errors     []string
	}
	scenario(t, t.Context(), "switch", s.url()+"/", "", nil, noSteps, &r)
	if len(r.Chat) != 3 || r.Stats.Resumes < 3 {
		t.Errorf("chat offsets %v, stats %+v: want three lines and three resumes", r.Chat, r.Stats)
	}
	for i := 1; i < len(r.News); i++ {
		if r.News[i] != r.News[i-1]+1 {
			t.Fatalf("news offsets %v: a hole or a duplicate at %d", r.News, i)
		}
	}
	if len(r.Errors) > 0 {
		t.Errorf("console errors: %q", r.Errors)
	}
}
