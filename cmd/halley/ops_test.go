package main

import (
	"bufio"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

func TestServe_AccessLog(t *testing.T) {
	s := startRun(t, "--addr", "127.0.0.1:0", "--demo=false", "--access-log", "--log-format", "json")
	if res := s.do(http.MethodGet, "/healthz?token=secret", "", ""); res.status != http.StatusOK {
		t.Fatalf("/healthz: %d", res.status)
	}
	// A WebSocket, taken from net/http once accepted.
	ws, _, err := websocket.Dial(t.Context(), "ws"+strings.TrimPrefix(s.url, "http")+"/ws", &websocket.DialOptions{HTTPClient: s.client})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	if _, hello, err := ws.Read(t.Context()); err != nil || !strings.Contains(string(hello), `"type":"hello"`) {
		t.Fatalf("hello %q, %v", hello, err)
	}
	ws.CloseNow()
	// An SSE stream, taken over from net/http.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, s.url+"/sse?channel=nope", nil)
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil || !strings.HasPrefix(line, "retry:") {
		t.Fatalf("sse first line %q, %v", line, err)
	}
	resp.Body.Close()
	// A taken-over stream's line is written as its handler returns, which
	// may come after the client's first read: wait for the lines before
	// stopping the server (a line still to come then is lost).
	wants := []string{
		`"msg":"halley: access","method":"GET","path":"/healthz","status":200`,
		`"msg":"halley: access","method":"GET","path":"/ws","status":101`,
		`"msg":"halley: access","method":"GET","path":"/sse","status":200`,
	}
	deadline := time.Now().Add(time.Minute)
	for _, want := range wants {
		for !strings.Contains(s.stderr.String(), want) && time.Now().Before(deadline) {
			runtime.Gosched()
		}
	}
	s.stop()
	log := s.stderr.String()
	for _, want := range wants {
		if !strings.Contains(log, want) {
			t.Errorf("no %s in the log:\n%s", want, log)
		}
	}
	if strings.Contains(log, "secret") {
		t.Errorf("the access log shows the query:\n%s", log)
	}
}
