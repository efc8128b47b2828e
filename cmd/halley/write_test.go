package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

// startDeclared runs the server with a config file declaring the channel
// "news", the bus "chat" (whose filter backend signs each write with
// "client" when a session wrote it, and rejects spam) and the notifier
// "docs".
func startDeclared(t testing.TB) *testServer {
	t.Helper()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Session string          `json:"session"`
			JSON    json.RawMessage `json:"json"`
			Data    *string         `json:"data"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		text := string(req.JSON)
		if req.Data != nil {
			text = *req.Data
		}
		if strings.Contains(text, "spam") {
			w.WriteHeader(http.StatusUnprocessableEntity)
			_, _ = io.WriteString(w, `{"reason":"no spam here"}`)
			return
		}
		from := "server"
		if req.Session != "" {
			from = "client"
		}
		signed, _ := json.Marshal(map[string]string{"from": from, "text": text})
		_, _ = w.Write(append(append([]byte(`{"json":`), signed...), '}'))
	}))
	t.Cleanup(backend.Close)
	file := filepath.Join(t.TempDir(), "halley.json")
	writeFile(t, file, `{
		"addr": "127.0.0.1:0",
		"demo": false,
		"channels": [{"name": "news"}],
		"buses": [{"name": "chat", "filter_url": "`+backend.URL+`/filter"}],
		"notifiers": [{"name": "docs"}]
	}`)
	return startRun(t, "--config", file)
}

func TestWrite(t *testing.T) {
	s := startDeclared(t)
	for i, tr := range []string{"ws", "sse", "poll"} {
		t.Run(tr, func(t *testing.T) {
			var stdout, stderr syncBuffer
			args := []string{"write", "--server", s.url, "--transport", tr, "chat", "hi " + tr}
			if code := run(t.Context(), args, &stdout, &stderr); code != 0 {
				t.Fatalf("write: exit %d, stderr %q", code, stderr.String())
			}
			want := `{"offset":` + string(rune('1'+i)) + "}\n"
			if got := stdout.String(); got != want {
				t.Errorf("write printed %q, want %q", got, want)
			}
			// sub sees it, signed by the filter as a client's.
			sub := startSub(t, "--server", s.url, "--transport", tr, "--last", "1", "chat")
			sub.expectLines(`{"channel":"chat","offset":` + string(rune('1'+i)) + `,"data":{"from":"client","text":"hi ` + tr + `"}}`)
			if code := sub.stop(); code != 0 {
				t.Errorf("sub: exit %d (stderr %q)", code, sub.stderr.String())
			}
		})
	}
}

func TestWrite_Errors(t *testing.T) {
	s := startDeclared(t)
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{name: "rejected", args: []string{"chat", "cheap spam"}, code: 1, stderr: "halley write: rejected: no spam here\n"},
		{name: "rejected over sse", args: []string{"--transport", "sse", "chat", "spam"}, code: 1, stderr: "halley write: rejected: no spam here\n"},
		{name: "not a bus", args: []string{"news", "x"}, code: 1, stderr: "halley write: not_a_bus: "},
		{name: "unknown bus", args: []string{"--transport", "poll", "nope", "x"}, code: 1, stderr: "halley write: unknown_channel: "},
		{name: "no argument", args: []string{}, code: 2, stderr: "want BUS and DATA"},
		{name: "one argument", args: []string{"chat"}, code: 2, stderr: "usage: halley write"},
		{name: "three arguments", args: []string{"chat", "a", "b"}, code: 2, stderr: "got 3 arguments"},
		{name: "empty bus", args: []string{"", "x"}, code: 2, stderr: "empty bus name"},
		{name: "bad transport", args: []string{"--transport", "pigeon", "chat", "x"}, code: 2, stderr: `unknown transport "pigeon"`},
		{name: "unknown flag", args: []string{"--nope", "chat", "x"}, code: 2, stderr: "flag provided but not defined"},
		{name: "help", args: []string{"-h"}, code: 0, stderr: "usage: halley write"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr syncBuffer
			args := append([]string{"write", "--server", s.url}, tt.args...)
			if code := run(t.Context(), args, &stdout, &stderr); code != tt.code {
				t.Errorf("exit code = %d, want %d (stderr %q)", code, tt.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr.String(), tt.stderr)
			}
			if stdout.String() != "" {
				t.Errorf("stdout = %q, want nothing", stdout.String())
			}
		})
	}
	// Nothing refused entered the bus.
	if res := s.do(http.MethodGet, "/api/channels/chat", "", ""); !strings.Contains(res.body, `"offset":0,`) {
		t.Errorf("chat = %s, want it empty", res.body)
	}
}

func TestWrite_ServerDown(t *testing.T) {
	for _, tr := range []string{"ws", "sse"} {
		var stdout, stderr syncBuffer
		// Port 1 on loopback: nothing listens there.
		args := []string{"write", "--server", "http://127.0.0.1:1", "--transport", tr, "chat", "x"}
		if code := run(t.Context(), args, &stdout, &stderr); code != 1 {
			t.Errorf("%s: exit code = %d, want 1 (stderr %q)", tr, code, stderr.String())
		}
		if !strings.Contains(stderr.String(), "halley write: ") || stdout.String() != "" {
			t.Errorf("%s: stdout %q, stderr %q: want the error on stderr only", tr, stdout.String(), stderr.String())
		}
	}
}
