package hooks_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/hooks"
)

func TestPrepare_Answers(t *testing.T) {
	h := newHub(t)
	s := newSession(t, h, "alice")
	tests := []struct {
		name     string
		status   int
		body     string
		want     string // the notification sent; "" with send false
		wantSend bool
		wantErr  string
	}{
		{name: "send", status: http.StatusOK, body: `{"data": {"title": "for alice"}}`, want: `{"title": "for alice"}`, wantSend: true},
		{name: "send null", status: http.StatusOK, body: `{"data": null}`, want: `null`, wantSend: true},
		{name: "block", status: http.StatusNoContent},
		{name: "200 without data", status: http.StatusOK, body: `{}`, wantErr: `without "data"`},
		{name: "200 not json", status: http.StatusOK, body: `nope`, wantErr: "bad 200 answer"},
		{name: "500", status: http.StatusInternalServerError, wantErr: "status 500"},
		{name: "403", status: http.StatusForbidden, wantErr: "status 403"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBackend(t, func(map[string]json.RawMessage) answer { return answer{status: tt.status, body: tt.body} })
			opts := b.opts()
			opts.Header = http.Header{"X-Secret": {"s3cret"}}
			prepare := hooks.Prepare("docs", b.srv.URL, opts)
			c, send, err := prepare(testCtx(t), halley.Identity{Session: s, User: "alice"}, "42", json.RawMessage(`{"title": "changed"}`))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || send {
					t.Fatalf("prepare = %s, %v, %v; want an error with %q", c, send, err, tt.wantErr)
				}
				return
			}
			if err != nil || send != tt.wantSend || string(c) != tt.want {
				t.Fatalf("prepare = %s, %v, %v; want %s, %v", c, send, err, tt.want, tt.wantSend)
			}
			r := b.requests()[0]
			if r.header.Get("X-Secret") != "s3cret" {
				t.Errorf("the request lacks the options' header: %v", r.header)
			}
			want := map[string]string{
				"notifier": `"docs"`,
				"key":      `"42"`,
				"session":  `"` + s.ID() + `"`,
				"user":     `"alice"`,
				"data":     `{"title": "changed"}`,
			}
			if len(r.body) != len(want) {
				t.Errorf("request = %v, want the fields %v", r.body, want)
			}
			for k, v := range want {
				if string(r.body[k]) != v {
					t.Errorf("request field %q = %s, want %s", k, r.body[k], v)
				}
			}
		})
	}
}

func TestPrepare_NoUser(t *testing.T) {
	h := newHub(t)
	s := newSession(t, h, "")
	b := newBackend(t, func(map[string]json.RawMessage) answer { return answer{status: http.StatusNoContent} })
	if _, _, err := hooks.Prepare("docs", b.srv.URL, b.opts())(testCtx(t), halley.Identity{Session: s}, "k", nil); err != nil {
		t.Fatal(err)
	}
	r := b.requests()[0].body
	if _, ok := r["user"]; ok {
		t.Errorf("request has a user: %v", r)
	}
	if string(r["data"]) != "null" {
		t.Errorf("data = %s, want null for an empty notification", r["data"])
	}
}

func TestPrepare_NotJSON(t *testing.T) {
	b := newBackend(t, func(map[string]json.RawMessage) answer { return answer{status: http.StatusNoContent} })
	_, _, err := hooks.Prepare("docs", b.srv.URL, b.opts())(testCtx(t), halley.Identity{}, "k", json.RawMessage(`{`))
	if err == nil || len(b.requests()) != 0 {
		t.Fatalf("err = %v after %d requests, want an error before any", err, len(b.requests()))
	}
}

func TestPrepare_BackendDown(t *testing.T) {
	_, _, err := hooks.Prepare("docs", "http://[::1", hooks.Options{})(testCtx(t), halley.Identity{}, "k", json.RawMessage(`1`))
	if err == nil || errors.Is(err, halley.ErrRejected) {
		t.Fatalf("err = %v, want a plain error", err)
	}
}

// TestPrepare_Notifier runs a notifier whose Prepare is a backend that
// makes each user's notification, blocks bob and fails for carol.
func TestPrepare_Notifier(t *testing.T) {
	h := newHub(t)
	b := newBackend(t, func(body map[string]json.RawMessage) answer {
		var user string
		_ = json.Unmarshal(body["user"], &user)
		switch user {
		case "bob":
			return answer{status: http.StatusNoContent}
		case "carol":
			return answer{status: http.StatusServiceUnavailable}
		}
		return answer{status: http.StatusOK, body: `{"data": {"for": "` + user + `", "doc": ` + string(body["data"]) + `}}`}
	})
	n, err := halley.NewNotifier(h, halley.NotifierOptions[string, json.RawMessage, json.RawMessage]{
		Name:    "docs",
		Prepare: hooks.Prepare("docs", b.srv.URL, b.opts()),
	})
	if err != nil {
		t.Fatal(err)
	}
	chans := map[string]string{}
	for _, u := range []string{"alice", "bob", "carol"} {
		id, err := n.Listen(newSession(t, h, u), "42")
		if err != nil {
			t.Fatal(err)
		}
		chans[u] = id
	}
	sent, err := n.Notify(testCtx(t), "42", json.RawMessage(`{"v":7}`), halley.NotFor{})
	if err != nil || sent != 1 {
		t.Fatalf("Notify = %d, %v; want 1 (alice only)", sent, err)
	}
	c, _ := h.Channel(chans["alice"])
	msgs, err := c.Read(testCtx(t), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"notifier":"docs","key":"42","json":{"for":"alice","doc":{"v":7}}}`; len(msgs) != 1 || string(msgs[0].Data) != want {
		t.Errorf("alice got %v, want %s", msgs, want)
	}
	for _, u := range []string{"bob", "carol"} {
		if c, _ := h.Channel(chans[u]); c.Offset() != 0 {
			t.Errorf("%s got %d notifications, want none", u, c.Offset())
		}
	}
	if got := len(b.requests()); got != 3 {
		t.Errorf("backend asked %d times, want once per listener (3)", got)
	}
}
