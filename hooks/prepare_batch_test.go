package hooks_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/hooks"
)

// batchListener is one entry of a PrepareBatch request's "listeners".
type batchListener struct {
	Session string  `json:"session"`
	User    *string `json:"user"`
}

// listenersOf decodes the "listeners" of a PrepareBatch request.
func listenersOf(t testing.TB, body map[string]json.RawMessage) []batchListener {
	t.Helper()
	var ls []batchListener
	if err := json.Unmarshal(body["listeners"], &ls); err != nil {
		t.Errorf("listeners = %s: %v", body["listeners"], err)
	}
	return ls
}

func TestPrepareBatch_Request(t *testing.T) {
	h := newHub(t)
	alice, anon := newSession(t, h, "alice"), newSession(t, h, "")
	b := newBackend(t, func(map[string]json.RawMessage) answer { return answer{status: http.StatusNoContent} })
	opts := b.opts()
	opts.Header = http.Header{"X-Secret": {"s3cret"}}
	ids := []halley.Identity{{Session: alice, User: "alice"}, {Session: anon}}
	out, err := hooks.PrepareBatch("docs", b.srv.URL, opts)(testCtx(t), ids, "42", json.RawMessage(`{"title": "changed"}`))
	if err != nil || len(out) != 2 {
		t.Fatalf("PrepareBatch = %v, %v; want 2 results", out, err)
	}
	reqs := b.requests()
	if len(reqs) != 1 {
		t.Fatalf("backend got %d requests, want 1 for the batch", len(reqs))
	}
	r := reqs[0]
	if r.header.Get("X-Secret") != "s3cret" {
		t.Errorf("the request lacks the options' header: %v", r.header)
	}
	want := map[string]string{
		"notifier":  `"docs"`,
		"key":       `"42"`,
		"data":      `{"title": "changed"}`,
		"listeners": `[{"session":"` + alice.ID() + `","user":"alice"},{"session":"` + anon.ID() + `"}]`,
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

func TestPrepareBatch_Answers(t *testing.T) {
	h := newHub(t)
	ids := []halley.Identity{
		{Session: newSession(t, h, "alice"), User: "alice"},
		{Session: newSession(t, h, "bob"), User: "bob"},
		{Session: newSession(t, h, "carol"), User: "carol"},
	}
	tests := []struct {
		name    string
		status  int
		body    string
		want    []string // the notification each listener gets; "" when blocked
		wantErr string
	}{
		{name: "send all", status: http.StatusOK, body: `{"results":[{"data":1},{"data":{"b":2}},{"data":"c"}]}`, want: []string{`1`, `{"b":2}`, `"c"`}},
		{name: "block some", status: http.StatusOK, body: `{"results":[null,{"data":2},null]}`, want: []string{"", `2`, ""}},
		{name: "send null", status: http.StatusOK, body: `{"results":[{"data":null},null,null]}`, want: []string{`null`, "", ""}},
		{name: "204 blocks all", status: http.StatusNoContent, want: []string{"", "", ""}},
		{name: "too few results", status: http.StatusOK, body: `{"results":[{"data":1},{"data":2}]}`, wantErr: "2 results for 3 listeners"},
		{name: "too many results", status: http.StatusOK, body: `{"results":[null,null,null,null]}`, wantErr: "4 results for 3 listeners"},
		{name: "no results", status: http.StatusOK, body: `{}`, wantErr: `without "results"`},
		{name: "null results", status: http.StatusOK, body: `{"results":null}`, wantErr: `without "results"`},
		{name: "results not an array", status: http.StatusOK, body: `{"results":{"data":1}}`, wantErr: "bad 200 answer"},
		{name: "result without data", status: http.StatusOK, body: `{"results":[null,{},null]}`, wantErr: `result 1 without "data"`},
		{name: "result not an object", status: http.StatusOK, body: `{"results":[null,null,true]}`, wantErr: "result 2 is neither null nor an object"},
		{name: "200 not json", status: http.StatusOK, body: `nope`, wantErr: "bad 200 answer"},
		{name: "500", status: http.StatusInternalServerError, wantErr: "status 500"},
		{name: "403", status: http.StatusForbidden, body: `{"results":[null,null,null]}`, wantErr: "status 403"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBackend(t, func(map[string]json.RawMessage) answer { return answer{status: tt.status, body: tt.body} })
			out, err := hooks.PrepareBatch("docs", b.srv.URL, b.opts())(testCtx(t), ids, "42", json.RawMessage(`{}`))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || out != nil {
					t.Fatalf("PrepareBatch = %v, %v; want no results and an error with %q", out, err, tt.wantErr)
				}
				return
			}
			if err != nil || len(out) != len(tt.want) {
				t.Fatalf("PrepareBatch = %v, %v; want %d results", out, err, len(tt.want))
			}
			for i, p := range out {
				if p.Send != (tt.want[i] != "") || string(p.Value) != tt.want[i] {
					t.Errorf("result %d = %s, %v; want %q", i, p.Value, p.Send, tt.want[i])
				}
			}
		})
	}
}

// TestPrepareBatch_Order checks that the results go to the listeners in
// the order of the request: the backend answers each listener with its own
// session id.
func TestPrepareBatch_Order(t *testing.T) {
	h := newHub(t)
	var ids []halley.Identity
	for i := range 7 {
		u := fmt.Sprint("user", i)
		ids = append(ids, halley.Identity{Session: newSession(t, h, u), User: u})
	}
	b := newBackend(t, func(body map[string]json.RawMessage) answer {
		var results []string
		for _, l := range listenersOf(t, body) {
			results = append(results, `{"data":"`+l.Session+`"}`)
		}
		return answer{status: http.StatusOK, body: `{"results":[` + strings.Join(results, ",") + `]}`}
	})
	out, err := hooks.PrepareBatch("docs", b.srv.URL, b.opts())(testCtx(t), ids, "k", json.RawMessage(`1`))
	if err != nil || len(out) != len(ids) {
		t.Fatalf("PrepareBatch = %v, %v", out, err)
	}
	for i, p := range out {
		if want := `"` + ids[i].Session.ID() + `"`; !p.Send || string(p.Value) != want {
			t.Errorf("result %d = %s, want %s (its own session)", i, p.Value, want)
		}
	}
}

func TestPrepareBatch_NoListeners(t *testing.T) {
	b := newBackend(t, func(map[string]json.RawMessage) answer { return answer{status: http.StatusNoContent} })
	out, err := hooks.PrepareBatch("docs", b.srv.URL, b.opts())(testCtx(t), nil, "k", json.RawMessage(`1`))
	if err != nil || len(out) != 0 || len(b.requests()) != 0 {
		t.Fatalf("PrepareBatch = %v, %v after %d requests; want nothing and no request", out, err, len(b.requests()))
	}
}

func TestPrepareBatch_NotJSON(t *testing.T) {
	b := newBackend(t, func(map[string]json.RawMessage) answer { return answer{status: http.StatusNoContent} })
	_, err := hooks.PrepareBatch("docs", b.srv.URL, b.opts())(testCtx(t), []halley.Identity{{}}, "k", json.RawMessage(`{`))
	if err == nil || len(b.requests()) != 0 {
		t.Fatalf("err = %v after %d requests, want an error before any", err, len(b.requests()))
	}
}

func TestPrepareBatch_EmptyNotification(t *testing.T) {
	b := newBackend(t, func(map[string]json.RawMessage) answer { return answer{status: http.StatusNoContent} })
	if _, err := hooks.PrepareBatch("docs", b.srv.URL, b.opts())(testCtx(t), []halley.Identity{{}}, "k", nil); err != nil {
		t.Fatal(err)
	}
	r := b.requests()[0].body
	if string(r["data"]) != "null" || string(r["listeners"]) != "[{}]" {
		t.Errorf("request = data %s listeners %s, want null and one listener without session", r["data"], r["listeners"])
	}
}

func TestPrepareBatch_BackendDown(t *testing.T) {
	_, err := hooks.PrepareBatch("docs", "http://[::1", hooks.Options{})(testCtx(t), []halley.Identity{{}}, "k", json.RawMessage(`1`))
	if err == nil || !strings.Contains(err.Error(), `prepare batch "docs"`) {
		t.Fatalf("err = %v, want an error naming the notifier", err)
	}
}

func TestPrepareBatch_Timeout(t *testing.T) {
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
	_, err := hooks.PrepareBatch("docs", srv.URL, hooks.Options{Client: &client})(testCtx(t), []halley.Identity{{}}, "k", json.RawMessage(`1`))
	if err == nil || !strings.Contains(err.Error(), "Timeout") {
		t.Fatalf("err = %v, want a timeout", err)
	}
}

// notifierEnv is a notifier whose PrepareBatch is a backend, with one
// listener of key "42" per user.
type notifierEnv struct {
	hub   *halley.Hub
	n     *halley.Notifier[string, json.RawMessage, json.RawMessage]
	b     *backend
	chans map[string]string // user → notification channel
	users map[string]string // session id → user
}

func newNotifierEnv(t *testing.T, batchSize int, users []string, answerFor func(body map[string]json.RawMessage) answer) *notifierEnv {
	t.Helper()
	e := &notifierEnv{hub: newHub(t), b: newBackend(t, answerFor), chans: map[string]string{}, users: map[string]string{}}
	var err error
	e.n, err = halley.NewNotifier(e.hub, halley.NotifierOptions[string, json.RawMessage, json.RawMessage]{
		Name:         "docs",
		PrepareBatch: hooks.PrepareBatch("docs", e.b.srv.URL, e.b.opts()),
		BatchSize:    batchSize,
		Concurrency:  hooks.Concurrency,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		s := newSession(t, e.hub, u)
		id, err := e.n.Listen(s, "42")
		if err != nil {
			t.Fatal(err)
		}
		e.chans[u], e.users[s.ID()] = id, u
	}
	return e
}

// got returns the notifications user received.
func (e *notifierEnv) got(t testing.TB, user string) []string {
	t.Helper()
	c, ok := e.hub.Channel(e.chans[user])
	if !ok {
		t.Fatalf("no notification channel for %s", user)
	}
	if c.Offset() == 0 {
		return nil
	}
	msgs, err := c.Read(testCtx(t), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		out = append(out, string(m.Data))
	}
	return out
}

// TestPrepareBatch_Notifier runs a notifier over 5 listeners in batches of
// 2: the backend is asked 3 times, about every listener once, makes each
// user's notification and blocks bob.
func TestPrepareBatch_Notifier(t *testing.T) {
	users := []string{"alice", "bob", "carol", "dave", "erin"}
	e := newNotifierEnv(t, 2, users, func(body map[string]json.RawMessage) answer {
		var results []string
		for _, l := range listenersOf(t, body) {
			if l.User != nil && *l.User == "bob" {
				results = append(results, "null")
				continue
			}
			results = append(results, `{"data":{"for":"`+*l.User+`","doc":`+string(body["data"])+`}}`)
		}
		return answer{status: http.StatusOK, body: `{"results":[` + strings.Join(results, ",") + `]}`}
	})
	sent, err := e.n.Notify(testCtx(t), "42", json.RawMessage(`{"v":7}`), halley.NotFor{})
	if err != nil || sent != 4 {
		t.Fatalf("Notify = %d, %v; want 4 (all but bob)", sent, err)
	}
	reqs := e.b.requests()
	var sizes []int
	var asked []string
	for _, r := range reqs {
		ls := listenersOf(t, r.body)
		sizes = append(sizes, len(ls))
		for _, l := range ls {
			if e.users[l.Session] != *l.User {
				t.Errorf("listener %v: the session belongs to %q", l, e.users[l.Session])
			}
			asked = append(asked, *l.User)
		}
	}
	slices.Sort(sizes)
	slices.Sort(asked)
	if !slices.Equal(sizes, []int{1, 2, 2}) || !slices.Equal(asked, users) {
		t.Errorf("batches of %v asking about %v; want 3 batches (2, 2, 1) asking about each of %v once", sizes, asked, users)
	}
	for _, u := range users {
		got := e.got(t, u)
		if u == "bob" {
			if len(got) != 0 {
				t.Errorf("bob got %v, want nothing (blocked)", got)
			}
			continue
		}
		want := `{"notifier":"docs","key":"42","json":{"for":"` + u + `","doc":{"v":7}}}`
		if len(got) != 1 || got[0] != want {
			t.Errorf("%s got %v, want %s", u, got, want)
		}
	}
}

// TestPrepareBatch_NotifierFailedBatch checks that a batch the backend
// fails sends nothing to any of its listeners, and the other batches are
// sent.
func TestPrepareBatch_NotifierFailedBatch(t *testing.T) {
	users := []string{"alice", "bob", "carol", "dave"}
	e := newNotifierEnv(t, 2, users, func(body map[string]json.RawMessage) answer {
		ls := listenersOf(t, body)
		results := make([]string, len(ls))
		for i, l := range ls {
			if *l.User == "carol" {
				return answer{status: http.StatusServiceUnavailable}
			}
			results[i] = `{"data":"ok"}`
		}
		return answer{status: http.StatusOK, body: `{"results":[` + strings.Join(results, ",") + `]}`}
	})
	sent, err := e.n.Notify(testCtx(t), "42", json.RawMessage(`1`), halley.NotFor{})
	if err != nil || sent != 2 {
		t.Fatalf("Notify = %d, %v; want 2 (the batch without carol)", sent, err)
	}
	failed := map[string]bool{}
	for _, r := range e.b.requests() {
		ls := listenersOf(t, r.body)
		if slices.ContainsFunc(ls, func(l batchListener) bool { return *l.User == "carol" }) {
			for _, l := range ls {
				failed[*l.User] = true
			}
		}
	}
	if len(failed) != 2 {
		t.Fatalf("carol's batch held %v, want 2 listeners", failed)
	}
	for _, u := range users {
		got := e.got(t, u)
		if failed[u] && len(got) != 0 {
			t.Errorf("%s got %v, want nothing: its batch failed", u, got)
		}
		if !failed[u] && len(got) != 1 {
			t.Errorf("%s got %v, want the notification", u, got)
		}
	}
}

// TestPrepareBatch_NotifierNotFor checks that excluded listeners are not
// sent to the backend at all.
func TestPrepareBatch_NotifierNotFor(t *testing.T) {
	e := newNotifierEnv(t, 0, []string{"alice", "bob"}, func(body map[string]json.RawMessage) answer {
		return answer{status: http.StatusOK, body: `{"results":[{"data":1}]}`}
	})
	sent, err := e.n.Notify(testCtx(t), "42", json.RawMessage(`1`), halley.NotFor{User: "bob"})
	if err != nil || sent != 1 {
		t.Fatalf("Notify = %d, %v; want 1", sent, err)
	}
	reqs := e.b.requests()
	if len(reqs) != 1 {
		t.Fatalf("backend asked %d times, want once", len(reqs))
	}
	if ls := listenersOf(t, reqs[0].body); len(ls) != 1 || *ls[0].User != "alice" {
		t.Errorf("listeners = %s, want alice only", reqs[0].body["listeners"])
	}
}
