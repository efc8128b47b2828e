package hooks_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/hooks"
	"github.com/halleyhq/halley/internal/wire/frame"
)

func TestFilter_Accept(t *testing.T) {
	h := newHub(t)
	s := newSession(t, h, "alice")
	b := newBackend(t, func(map[string]json.RawMessage) answer { return answer{status: http.StatusNoContent} })
	opts := b.opts()
	opts.Header = http.Header{"Authorization": {"Bearer s3cret"}}
	f := hooks.Filter("chat", b.srv.URL, opts)

	out, err := f(testCtx(t), halley.Writer{Session: s, User: "alice", RemoteAddr: "192.0.2.1:4321"}, []byte(`{"text":"hi"}`))
	if err != nil || string(out) != `{"text":"hi"}` {
		t.Fatalf("filter = %q, %v; want the write unchanged", out, err)
	}
	reqs := b.requests()
	if len(reqs) != 1 {
		t.Fatalf("backend got %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if got := r.header.Get("Authorization"); got != "Bearer s3cret" {
		t.Errorf("Authorization = %q, want the header of the options", got)
	}
	want := map[string]string{
		"bus":         `"chat"`,
		"server":      `false`,
		"session":     `"` + s.ID() + `"`,
		"user":        `"alice"`,
		"remote_addr": `"192.0.2.1:4321"`,
		"json":        `{"text":"hi"}`,
	}
	if len(r.body) != len(want) {
		t.Errorf("request = %v, want the fields %v", r.body, want)
	}
	for k, v := range want {
		if string(r.body[k]) != v {
			t.Errorf("request field %q = %s, want %s", k, r.body[k], v)
		}
	}
}

func TestFilter_ServerWrite(t *testing.T) {
	b := newBackend(t, func(map[string]json.RawMessage) answer { return answer{status: http.StatusNoContent} })
	f := hooks.Filter("chat", b.srv.URL, b.opts())
	if _, err := f(testCtx(t), halley.Writer{}, []byte("x")); err != nil {
		t.Fatal(err)
	}
	r := b.requests()[0].body
	if string(r["server"]) != "true" {
		t.Errorf("server = %s, want true", r["server"])
	}
	for _, k := range []string{"session", "user", "remote_addr"} {
		if _, ok := r[k]; ok {
			t.Errorf("a server write has %q: %s", k, r[k])
		}
	}
}

// TestFilter_Payload checks the payload convention both ways: the filter
// sends each payload in the field that keeps its bytes, and a backend that
// echoes the field back gets the same bytes into the bus.
func TestFilter_Payload(t *testing.T) {
	tests := []struct {
		name  string
		data  []byte
		field string
	}{
		{name: "json object", data: []byte(`{"a":[1,2]}`), field: "json"},
		{name: "json string", data: []byte(`"quoted"`), field: "json"},
		{name: "text", data: []byte("hello world"), field: "data"},
		{name: "multi-line json", data: []byte("{\n\"a\":1}"), field: "data"},
		{name: "empty", data: []byte{}, field: "data"},
		{name: "binary", data: []byte{0, 0xff, 0xfe, 'x'}, field: "data64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBackend(t, func(body map[string]json.RawMessage) answer {
				for _, k := range []string{"json", "data", "data64"} {
					if v, ok := body[k]; ok {
						return answer{status: http.StatusOK, body: `{"` + k + `":` + string(v) + `}`}
					}
				}
				return answer{status: http.StatusBadRequest}
			})
			f := hooks.Filter("bus", b.srv.URL, b.opts())
			out, err := f(testCtx(t), halley.Writer{}, tt.data)
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != string(tt.data) {
				t.Errorf("round trip = %q, want %q", out, tt.data)
			}
			if _, ok := b.requests()[0].body[tt.field]; !ok {
				t.Errorf("request %v has no %q", b.requests()[0].body, tt.field)
			}
		})
	}
}

func TestFilter_Enrich(t *testing.T) {
	tests := []struct {
		name   string
		answer string
		want   string
	}{
		{name: "json", answer: `{"json": {"text": "hi", "from": "alice"}}`, want: `{"text": "hi", "from": "alice"}`},
		{name: "data", answer: `{"data": "hi from alice"}`, want: "hi from alice"},
		{name: "data64", answer: `{"data64": "` + base64.StdEncoding.EncodeToString([]byte{1, 2, 3}) + `"}`, want: "\x01\x02\x03"},
		{name: "json null", answer: `{"json": null}`, want: "null"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBackend(t, func(map[string]json.RawMessage) answer { return answer{status: http.StatusOK, body: tt.answer} })
			out, err := hooks.Filter("chat", b.srv.URL, b.opts())(testCtx(t), halley.Writer{}, []byte(`{"text":"hi"}`))
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tt.want {
				t.Errorf("filter = %q, want %q", out, tt.want)
			}
		})
	}
}

func TestFilter_Reject(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		reason string // in the error's text
	}{
		{name: "403", status: http.StatusForbidden, body: `{"reason":"not a member"}`, reason: "not a member"},
		{name: "422", status: http.StatusUnprocessableEntity, body: `{"reason":"spam"}`, reason: "spam"},
		{name: "no reason", status: http.StatusForbidden, body: ``, reason: "halley: rejected"},
		{name: "reason not json", status: http.StatusUnprocessableEntity, body: `nope`, reason: "halley: rejected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBackend(t, func(map[string]json.RawMessage) answer { return answer{status: tt.status, body: tt.body} })
			_, err := hooks.Filter("chat", b.srv.URL, b.opts())(testCtx(t), halley.Writer{}, []byte("x"))
			if !errors.Is(err, halley.ErrRejected) || halley.Reason(err) != "rejected" {
				t.Fatalf("err = %v, want a rejection", err)
			}
			if !strings.Contains(err.Error(), tt.reason) || strings.Contains(err.Error(), hooks.ReasonUnavailable) {
				t.Errorf("err = %q, want the reason %q", err, tt.reason)
			}
			if logs := b.logs.String(); logs != "" {
				t.Errorf("a rejection was logged: %s", logs)
			}
		})
	}
}

// TestFilter_Unavailable checks that the filter fails closed: whatever goes
// wrong with the backend rejects the write with filter_unavailable, and
// the cause is logged.
func TestFilter_Unavailable(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		log    string
	}{
		{name: "500", status: http.StatusInternalServerError, log: "status 500"},
		{name: "400", status: http.StatusBadRequest, log: "status 400"},
		{name: "redirect without location", status: http.StatusTemporaryRedirect, log: "status 307"},
		{name: "200 without payload", status: http.StatusOK, body: `{"text":"hi"}`, log: "without"},
		{name: "200 not json", status: http.StatusOK, body: `hi`, log: "bad 200 answer"},
		{name: "200 empty", status: http.StatusOK, log: "bad 200 answer"},
		{name: "201", status: http.StatusCreated, body: `{"json":1}`, log: "status 201"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBackend(t, func(map[string]json.RawMessage) answer { return answer{status: tt.status, body: tt.body} })
			_, err := hooks.Filter("chat", b.srv.URL, b.opts())(testCtx(t), halley.Writer{}, []byte("x"))
			expectUnavailable(t, err, b.logs, tt.log)
		})
	}
}

func TestFilter_BackendDown(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	url := down.URL
	down.Close()
	logs := &syncBuffer{}
	opts := hooks.Options{Client: &http.Client{Transport: &http.Transport{}}, Logger: newLogger(logs)}
	_, err := hooks.Filter("chat", url, opts)(testCtx(t), halley.Writer{}, []byte("x"))
	expectUnavailable(t, err, logs, "connect")
}

func TestFilter_BadURL(t *testing.T) {
	logs := &syncBuffer{}
	_, err := hooks.Filter("chat", "http://[::1", hooks.Options{Logger: newLogger(logs)})(testCtx(t), halley.Writer{}, []byte("x"))
	expectUnavailable(t, err, logs, "missing ']' in host")
}

func TestFilter_Timeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	client := *srv.Client()
	client.Timeout = 50 * time.Millisecond
	logs := &syncBuffer{}
	_, err := hooks.Filter("chat", srv.URL, hooks.Options{Client: &client, Logger: newLogger(logs)})(testCtx(t), halley.Writer{}, []byte("x"))
	expectUnavailable(t, err, logs, "Timeout")
}

func TestFilter_WriterGone(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(testCtx(t))
	done := make(chan error, 1)
	go func() {
		_, err := hooks.Filter("chat", srv.URL, hooks.Options{Client: srv.Client(), Logger: newLogger(logs)})(ctx, halley.Writer{}, []byte("x"))
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, halley.ErrRejected) {
		t.Fatalf("err = %v, want a rejection", err)
	}
	if l := logs.String(); l != "" {
		t.Errorf("a write whose writer went away was logged: %s", l)
	}
}

func expectUnavailable(t testing.TB, err error, logs *syncBuffer, log string) {
	t.Helper()
	if !errors.Is(err, halley.ErrRejected) || !strings.HasSuffix(err.Error(), ": "+hooks.ReasonUnavailable) {
		t.Fatalf("err = %v, want a rejection with %q", err, hooks.ReasonUnavailable)
	}
	l := logs.String()
	if !strings.Contains(l, "bus filter unavailable") || !strings.Contains(l, "bus=chat") || !strings.Contains(l, log) {
		t.Errorf("log = %q, want the failure (%q)", l, log)
	}
}

// TestFilter_Bus runs a bus whose filter is a backend that rejects spam
// and signs every message with its writer.
func TestFilter_Bus(t *testing.T) {
	h := newHub(t)
	b := newBackend(t, func(body map[string]json.RawMessage) answer {
		var f frame.Frame
		raw, _ := json.Marshal(body)
		_ = json.Unmarshal(raw, &f)
		var msg struct {
			Text string `json:"text"`
		}
		if err := json.Unmarshal(f.Data(), &msg); err != nil {
			return answer{status: http.StatusUnprocessableEntity, body: `{"reason":"want {\"text\": ...}"}`}
		}
		if strings.Contains(msg.Text, "spam") {
			return answer{status: http.StatusUnprocessableEntity, body: `{"reason":"no spam, please"}`}
		}
		from := "server"
		if u, ok := body["user"]; ok {
			_ = json.Unmarshal(u, &from)
		}
		signed, _ := json.Marshal(map[string]string{"text": msg.Text, "from": from})
		return answer{status: http.StatusOK, body: `{"json":` + string(signed) + `}`}
	})
	bus, err := h.NewBus(testCtx(t), halley.BusOptions{Name: "chat", Filter: hooks.Filter("chat", b.srv.URL, b.opts())})
	if err != nil {
		t.Fatal(err)
	}
	alice := newSession(t, h, "alice")
	r := bus.Reader(0)

	if _, err := bus.WriteAs(testCtx(t), halley.Writer{Session: alice}, []byte(`{"text":"hello"}`)); err != nil {
		t.Fatal(err)
	}
	_, err = bus.WriteAs(testCtx(t), halley.Writer{Session: alice}, []byte(`{"text":"cheap spam"}`))
	if !errors.Is(err, halley.ErrRejected) || !strings.Contains(err.Error(), "no spam, please") {
		t.Fatalf("spam: err = %v, want the backend's rejection", err)
	}
	// The HTTP API's path: a write to the bus's channel, as the server.
	if _, err := bus.Channel().Write(testCtx(t), []byte(`{"text":"welcome"}`)); err != nil {
		t.Fatal(err)
	}
	want := []string{`{"from":"alice","text":"hello"}`, `{"from":"server","text":"welcome"}`}
	for i, w := range want {
		m, err := r.Next(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Data) != w {
			t.Errorf("message %d = %s, want %s", i+1, m.Data, w)
		}
	}
	if got := bus.Channel().Offset(); got != 2 {
		t.Errorf("bus offset = %d, want 2: the spam never entered", got)
	}
	if got := str(t, b.requests()[0].body, "session"); got != alice.ID() {
		t.Errorf("session = %q, want alice's %q", got, alice.ID())
	}
}
