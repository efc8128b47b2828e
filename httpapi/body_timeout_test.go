package httpapi_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/httpapi"
)

// TestBodyTimeout_CutsTrickle sends the headers of a 100-byte body and
// then one byte, over a raw connection, and reads until the server
// closes it: the answer is 408 body_timeout, long before the test's own
// bound. After a first publish, the connection is the lean loop's
// (takeover.go), which must cut it the same way.
func TestBodyTimeout_CutsTrickle(t *testing.T) {
	tests := []struct {
		name  string
		path  string
		key   string
		after bool // a whole publish first
	}{
		{name: "publish", path: "/api/publish"},
		{name: "publish after a publish", path: "/api/publish", after: true},
		{name: "session", path: "/api/sessions"},
		{name: "plain command", path: "/api/command", key: "s3cret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const timeout = 100 * time.Millisecond
			e := newEnv(t, halley.Config{}, httpapi.Options{BodyTimeout: timeout, APIKey: tt.key})
			conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			// A bound on the test, should the server never answer.
			if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(conn)
			if tt.after {
				e.createChannel(map[string]any{"name": "news"})
				const body = `{"channel":"news","data":1}`
				if _, err := fmt.Fprintf(conn, "POST /api/publish HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body); err != nil {
					t.Fatal(err)
				}
				res, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					t.Fatalf("first publish: status %d", res.StatusCode)
				}
			}
			start := time.Now()
			auth := ""
			if tt.key != "" {
				auth = "Authorization: Bearer " + tt.key + "\r\n"
			}
			_, err = fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%sContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{", tt.path, auth)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := io.ReadAll(br) // until the server closes the connection
			if err != nil {
				t.Fatalf("after %v: %v (read %q); want the server to answer and close", time.Since(start), err, raw)
			}
			res, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
			if err != nil {
				t.Fatalf("answer %q: %v", raw, err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			expectError(t, response{status: res.StatusCode, header: res.Header, body: body}, http.StatusRequestTimeout, "body_timeout")
			if e.hub.SessionCount() != 0 || e.hub.Active() != true {
				t.Errorf("the cut request did something: %d sessions, active %v", e.hub.SessionCount(), e.hub.Active())
			}
		})
	}
}

// TestBodyTimeout_NoDeadline serves a writer that cannot take a read
// deadline (a ResponseRecorder): the body is read without one.
func TestBodyTimeout_NoDeadline(t *testing.T) {
	hub, err := halley.New(halley.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hub.Shutdown(t.Context()) })
	req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/api/sessions", strings.NewReader(`{"user":"alice"}`))
	req.RemoteAddr = "127.0.0.1:5555"
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	httpapi.New(hub, httpapi.Options{BodyTimeout: time.Nanosecond}).ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated || hub.SessionCount() != 1 {
		t.Fatalf("answer = %d %s with %d sessions, want 201 and one", rec.Code, rec.Body, hub.SessionCount())
	}
}
