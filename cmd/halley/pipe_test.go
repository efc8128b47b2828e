package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/halleyhq/halley"
)

func TestServe_CommandPipe(t *testing.T) {
	path := filepath.Join(t.TempDir(), "halley.cmd")
	s := startRun(t, "--addr", "127.0.0.1:0", "--demo=false", "--command-pipe", path)

	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Type() != os.ModeNamedPipe || fi.Mode().Perm() != 0o600 {
		t.Fatalf("command pipe: %v %v, want a FIFO with mode 0600", fi.Mode(), err)
	}
	// Each write opens and closes the FIFO, as `echo cmd > fifo` does: the
	// server must not see EOF when a writer goes away.
	send := func(line string) {
		t.Helper()
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(line + "\n"); err != nil {
			t.Fatal(err)
		}
	}

	send("comet:deactivate")
	_, at := s.log.wait(t, 0, `halley: command "comet:deactivate" applied`)
	if r := waitPoll(t, s.poll("nope")); r.status != http.StatusServiceUnavailable {
		t.Errorf("poll while deactivated = %d %q, want 503", r.status, r.body)
	}

	send("comet:bogus")
	_, at = s.log.wait(t, at, `halley: command "comet:bogus": `)

	send("comet:activate")
	s.log.wait(t, at, `halley: command "comet:activate" applied`)
	if r := waitPoll(t, s.poll("nope")); r.status != http.StatusOK || r.body != "nope:ENDED_CHANNEL" {
		t.Errorf("poll after activate = %d %q, want 200", r.status, r.body)
	}
	if code := s.stop(); code != 0 {
		t.Errorf("exit code = %d, want 0", code)
	}
}

func TestServe_CommandPipeNotFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "regular")
	writeFile(t, path, "")
	var stdout, stderr syncBuffer
	if code := run(t.Context(), []string{"--addr", "127.0.0.1:0", "--command-pipe", path}, &stdout, &stderr); code != 2 {
		t.Fatalf("exit code = %d, want 2", code)
	}
	if !strings.Contains(stderr.String(), "is not a FIFO") {
		t.Errorf("stderr = %q, want it to say the file is not a FIFO", stderr.String())
	}
}

func TestServe_CommandPipeNamesThePath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", "dir", "pipe")
	var stdout, stderr syncBuffer
	if code := run(t.Context(), []string{"--addr", "127.0.0.1:0", "--command-pipe", path}, &stdout, &stderr); code != 2 {
		t.Fatalf("exit code = %d, want 2", code)
	}
	want := "halley: command pipe " + path + ": cannot create the FIFO: no such file or directory"
	if got := strings.TrimSpace(stderr.String()); got != want {
		t.Errorf("stderr = %q, want %q", got, want)
	}
}

func TestReadCommands(t *testing.T) {
	tests := []struct {
		name  string
		input string
		logs  []string
		check func(t *testing.T, h *halley.Hub)
	}{
		{name: "applied", input: "comet:set_timeout 5\n",
			logs:  []string{`command "comet:set_timeout 5" applied`},
			check: func(t *testing.T, h *halley.Hub) { expectTimeout(t, h, 5*time.Second) }},
		{name: "blank lines and CRLF", input: "\n  \r\ncomet:deactivate\r\n\n",
			logs:  []string{`command "comet:deactivate" applied`},
			check: func(t *testing.T, h *halley.Hub) { expectInactive(t, h) }},
		{name: "last line without LF", input: "comet:deactivate",
			logs:  []string{`command "comet:deactivate" applied`},
			check: func(t *testing.T, h *halley.Hub) { expectInactive(t, h) }},
		{name: "unknown then known", input: "reboot\ncomet:set_timeout 2 KILL\n",
			logs:  []string{`command "reboot": halley: unknown command`, `command "comet:set_timeout 2 KILL" applied`},
			check: func(t *testing.T, h *halley.Hub) { expectTimeout(t, h, 2*time.Second) }},
		{name: "overlong line skipped", input: strings.Repeat("x", 3*maxCommandLine) + "\ncomet:set_timeout 3\n",
			logs:  []string{"line longer than 4096 bytes ignored", `command "comet:set_timeout 3" applied`},
			check: func(t *testing.T, h *halley.Hub) { expectTimeout(t, h, 3*time.Second) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := halley.New(halley.Config{Logger: discard()})
			if err != nil {
				t.Fatal(err)
			}
			defer h.Shutdown(t.Context())
			var logs []string
			readCommands(strings.NewReader(tt.input), h, func(format string, args ...any) {
				logs = append(logs, fmt.Sprintf(format, args...))
			})
			if len(logs) != len(tt.logs) {
				t.Fatalf("logs = %q, want %d lines like %q", logs, len(tt.logs), tt.logs)
			}
			for i := range logs {
				if !strings.Contains(logs[i], tt.logs[i]) {
					t.Errorf("log %d = %q, want it to contain %q", i, logs[i], tt.logs[i])
				}
			}
			tt.check(t, h)
		})
	}
}

func expectTimeout(t *testing.T, h *halley.Hub, d time.Duration) {
	t.Helper()
	if h.PollTimeout() != d {
		t.Errorf("poll timeout = %v, want %v", h.PollTimeout(), d)
	}
}

func expectInactive(t *testing.T, h *halley.Hub) {
	t.Helper()
	if h.Active() {
		t.Error("hub still active")
	}
}
