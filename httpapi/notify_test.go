package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/httpapi"
)

// newSession creates a session through the API, for user ("" for none).
func (e *testEnv) newSession(user string) string {
	e.t.Helper()
	body := map[string]any{}
	if user != "" {
		body["user"] = user
	}
	res := e.post("/api/sessions", body)
	if res.status != http.StatusCreated {
		e.t.Fatalf("create session: %d %s", res.status, res.body)
	}
	return res.json(e.t)["id"].(string)
}

// listen makes session sid listen on key of notifier and returns its
// notification channel.
func (e *testEnv) listen(sid, notifier, key string) string {
	e.t.Helper()
	res := e.post("/api/listen", map[string]any{"session": sid, "notifier": notifier, "key": key})
	if res.status != http.StatusOK {
		e.t.Fatalf("listen: %d %s", res.status, res.body)
	}
	return res.json(e.t)["channel"].(string)
}

// notify sends a notification and returns the number of listeners that
// got it.
func (e *testEnv) notify(body string) int {
	e.t.Helper()
	res := e.do(http.MethodPost, "/api/notify", "application/json", body)
	if res.status != http.StatusOK {
		e.t.Fatalf("notify %s: %d %s", body, res.status, res.body)
	}
	return int(res.json(e.t)["listeners"].(float64))
}

func (e *testEnv) createNotifier(body map[string]any) {
	e.t.Helper()
	res := e.post("/api/notifiers", body)
	if res.status != http.StatusCreated {
		e.t.Fatalf("create notifier: %d %s", res.status, res.body)
	}
	if got := res.json(e.t)["name"]; got != body["name"] {
		e.t.Fatalf("create notifier: name = %v, want %v", got, body["name"])
	}
}

func TestSessions_User(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        string
		user        string
		key         string // the API key; without one, bodies must be JSON
	}{
		{name: "user", contentType: "application/json", body: `{"user":"alice"}`, user: "alice"},
		{name: "empty object", contentType: "application/json", body: `{}`},
		{name: "null", contentType: "application/json", body: `null`},
		{name: "no body", body: ``},
		{name: "blank body, any type, with a key", contentType: "text/plain", body: " \n", key: "k"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, halley.Config{}, httpapi.Options{APIKey: tt.key})
			res := e.do(http.MethodPost, "/api/sessions", tt.contentType, tt.body)
			if res.status != http.StatusCreated {
				t.Fatalf("status = %d, want 201 (body %s)", res.status, res.body)
			}
			s, ok := e.hub.Session(res.json(t)["id"].(string))
			if !ok || s.User() != tt.user {
				t.Fatalf("session %v has user %q, want %q", ok, s.User(), tt.user)
			}
		})
	}
}

func TestSessions_UserErrors(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{})
	expectError(t, e.do(http.MethodPost, "/api/sessions", "application/json", `{"usr":"alice"}`), http.StatusBadRequest, "bad_json")
	expectError(t, e.do(http.MethodPost, "/api/sessions", "application/json", `{"user":1}`), http.StatusBadRequest, "bad_json")
	expectError(t, e.do(http.MethodPost, "/api/sessions", "text/plain", `{"user":"alice"}`), http.StatusUnsupportedMediaType, "unsupported_media_type")
	if n := e.hub.SessionCount(); n != 0 {
		t.Errorf("%d sessions created by bad requests", n)
	}
}

func TestNotifiers_Create(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		status int
		reason string
	}{
		{name: "taken", body: `{"name":"docs"}`, status: http.StatusConflict, reason: "name_taken"},
		{name: "no name", body: `{}`, status: http.StatusBadRequest, reason: "invalid_options"},
		{name: "control character", body: `{"name":"a\nb"}`, status: http.StatusBadRequest, reason: "invalid_options"},
		{name: "bad prepare url", body: `{"name":"x","prepare_url":"localhost:9000/prepare"}`, status: http.StatusBadRequest, reason: "invalid_options"},
		{name: "unknown field", body: `{"name":"x","url":"http://x/"}`, status: http.StatusBadRequest, reason: "bad_json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, halley.Config{}, httpapi.Options{})
			e.createNotifier(map[string]any{"name": "docs"})
			expectError(t, e.do(http.MethodPost, "/api/notifiers", "application/json", tt.body), tt.status, tt.reason)
		})
	}
}

func TestNotify_Delivers(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{})
	e.createNotifier(map[string]any{"name": "docs"})
	sid := e.newSession("alice")
	ch := e.listen(sid, "docs", "42")
	if c, ok := e.hub.Channel(ch); !ok || c.Session() == nil || c.Session().ID() != sid {
		t.Fatalf("channel %q is not the session's", ch)
	}
	if again := e.listen(sid, "docs", "43"); again != ch {
		t.Errorf("second listen gave channel %q, want the same %q", again, ch)
	}

	if n := e.notify(`{"notifier":"docs","key":"42","data":{ "title" : "v2" }}`); n != 1 {
		t.Errorf("listeners = %d, want 1", n)
	}
	if n := e.notify(`{"notifier":"docs","key":"43","data":"plain"}`); n != 1 {
		t.Errorf("listeners = %d, want 1", n)
	}
	if n := e.notify(`{"notifier":"docs","key":"44","data":1}`); n != 0 {
		t.Errorf("listeners of a key nobody listens on = %d, want 0", n)
	}
	want := []string{
		`{"notifier":"docs","key":"42","json":{"title":"v2"}}`,
		`{"notifier":"docs","key":"43","json":"plain"}`,
	}
	if got := e.readAll(ch); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("notifications = %q, want %q", got, want)
	}
}

func TestNotify_NotFor(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{})
	e.createNotifier(map[string]any{"name": "docs"})
	alice1, alice2, bob := e.newSession("alice"), e.newSession("alice"), e.newSession("bob")
	for _, s := range []string{alice1, alice2, bob} {
		e.listen(s, "docs", "42")
	}
	tests := []struct {
		notFor string
		want   int
	}{
		{notFor: `{}`, want: 3},
		{notFor: `null`, want: 3},
		{notFor: `{"session":"` + alice1 + `"}`, want: 2},
		{notFor: `{"user":"alice"}`, want: 1},
		{notFor: `{"user":"bob","session":"` + alice1 + `"}`, want: 1},
	}
	for _, tt := range tests {
		if n := e.notify(`{"notifier":"docs","key":"42","data":1,"not_for":` + tt.notFor + `}`); n != tt.want {
			t.Errorf("not_for %s: listeners = %d, want %d", tt.notFor, n, tt.want)
		}
	}
	expectError(t, e.do(http.MethodPost, "/api/notify", "application/json", `{"notifier":"docs","key":"42","data":1,"not_for":{"me":true}}`), http.StatusBadRequest, "bad_json")
}

func TestNotify_Errors(t *testing.T) {
	tests := []struct {
		name   string
		path   string
		body   string
		status int
		reason string
	}{
		{name: "notify unknown notifier", path: "/api/notify", body: `{"notifier":"nope","key":"1","data":1}`, status: http.StatusNotFound, reason: "unknown_notifier"},
		{name: "notify no data", path: "/api/notify", body: `{"notifier":"docs","key":"1"}`, status: http.StatusBadRequest, reason: "bad_request"},
		{name: "notify no key", path: "/api/notify", body: `{"notifier":"docs","data":1}`, status: http.StatusBadRequest, reason: "bad_request"},
		{name: "notify no notifier", path: "/api/notify", body: `{"key":"1","data":1}`, status: http.StatusBadRequest, reason: "bad_request"},
		{name: "notify bad data", path: "/api/notify", body: `{"notifier":"docs","key":"1","data":}`, status: http.StatusBadRequest, reason: "bad_json"},
		{name: "notify bad key", path: "/api/notify", body: `{"notifier":"ints","key":"one","data":1}`, status: http.StatusBadRequest, reason: "invalid_options"},
		{name: "listen unknown notifier", path: "/api/listen", body: `{"session":"SID","notifier":"nope","key":"1"}`, status: http.StatusNotFound, reason: "unknown_notifier"},
		{name: "listen unknown session", path: "/api/listen", body: `{"session":"nope","notifier":"docs","key":"1"}`, status: http.StatusNotFound, reason: "unknown_session"},
		{name: "listen no key", path: "/api/listen", body: `{"session":"SID","notifier":"docs"}`, status: http.StatusBadRequest, reason: "bad_request"},
		{name: "listen bad key", path: "/api/listen", body: `{"session":"SID","notifier":"ints","key":"one"}`, status: http.StatusBadRequest, reason: "invalid_options"},
		{name: "unlisten unknown notifier", path: "/api/unlisten", body: `{"session":"SID","notifier":"nope","key":"1"}`, status: http.StatusNotFound, reason: "unknown_notifier"},
		{name: "unlisten unknown session", path: "/api/unlisten", body: `{"session":"nope","notifier":"docs","key":"1"}`, status: http.StatusNotFound, reason: "unknown_session"},
		{name: "unlisten no session", path: "/api/unlisten", body: `{"notifier":"docs","key":"1"}`, status: http.StatusBadRequest, reason: "bad_request"},
		{name: "unlisten_user unknown notifier", path: "/api/unlisten_user", body: `{"notifier":"nope","user":"alice","key":"1"}`, status: http.StatusNotFound, reason: "unknown_notifier"},
		{name: "unlisten_user no user", path: "/api/unlisten_user", body: `{"notifier":"docs","key":"1"}`, status: http.StatusBadRequest, reason: "bad_request"},
		{name: "unlisten_user empty", path: "/api/unlisten_user", body: ``, status: http.StatusBadRequest, reason: "bad_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, halley.Config{}, httpapi.Options{})
			e.createNotifier(map[string]any{"name": "docs"})
			if _, err := halley.NewSimpleNotifier[int, string](e.hub, "ints"); err != nil {
				t.Fatal(err)
			}
			sid := e.newSession("")
			body := strings.ReplaceAll(tt.body, "SID", sid)
			expectError(t, e.do(http.MethodPost, tt.path, "application/json", body), tt.status, tt.reason)
		})
	}
}

// TestNotify_TypedNotifier notifies a notifier written in Go, whose
// notifications have a type of their own.
func TestNotify_TypedNotifier(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{})
	type doc struct {
		Title string `json:"title"`
	}
	if _, err := halley.NewSimpleNotifier[string, doc](e.hub, "docs"); err != nil {
		t.Fatal(err)
	}
	ch := e.listen(e.newSession(""), "docs", "42")
	if n := e.notify(`{"notifier":"docs","key":"42","data":{"title":"v2"}}`); n != 1 {
		t.Errorf("listeners = %d, want 1", n)
	}
	if got := e.readAll(ch); len(got) != 1 || got[0] != `{"notifier":"docs","key":"42","json":{"title":"v2"}}` {
		t.Errorf("notifications = %q", got)
	}
	expectError(t, e.do(http.MethodPost, "/api/notify", "application/json", `{"notifier":"docs","key":"42","data":{"title":7}}`), http.StatusBadRequest, "bad_json")
}

func TestUnlisten(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{})
	e.createNotifier(map[string]any{"name": "docs"})
	sid := e.newSession("")
	e.listen(sid, "docs", "42")
	res := e.post("/api/unlisten", map[string]any{"session": sid, "notifier": "docs", "key": "42"})
	if res.status != http.StatusNoContent || len(res.body) != 0 {
		t.Fatalf("unlisten: %d %s, want 204", res.status, res.body)
	}
	if n := e.notify(`{"notifier":"docs","key":"42","data":1}`); n != 0 {
		t.Errorf("listeners after unlisten = %d, want 0", n)
	}
	// Unlistening what is not listened is no error.
	if res := e.post("/api/unlisten", map[string]any{"session": sid, "notifier": "docs", "key": "7"}); res.status != http.StatusNoContent {
		t.Errorf("unlisten again: %d %s, want 204", res.status, res.body)
	}
}

func TestUnlistenUser(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{})
	e.createNotifier(map[string]any{"name": "docs"})
	for _, u := range []string{"alice", "alice", "bob"} {
		e.listen(e.newSession(u), "docs", "42")
	}
	res := e.post("/api/unlisten_user", map[string]any{"notifier": "docs", "user": "alice", "key": "42"})
	if res.status != http.StatusOK || res.json(t)["unlistened"] != 2.0 {
		t.Fatalf("unlisten_user = %d %s, want 200 unlistened 2", res.status, res.body)
	}
	if n := e.notify(`{"notifier":"docs","key":"42","data":1}`); n != 1 {
		t.Errorf("listeners = %d, want bob only", n)
	}
	res = e.post("/api/unlisten_user", map[string]any{"notifier": "docs", "user": "alice", "key": "42"})
	if res.status != http.StatusOK || res.json(t)["unlistened"] != 0.0 {
		t.Errorf("unlisten_user again = %d %s, want 200 unlistened 0", res.status, res.body)
	}
}

// TestNotifiers_PrepareURL creates a notifier whose backend makes each
// user's notification: alice gets hers, bob is blocked, carol's fails.
func TestNotifiers_PrepareURL(t *testing.T) {
	backend := newHookBackend(t, func(body map[string]json.RawMessage) (int, string) {
		var user string
		_ = json.Unmarshal(body["user"], &user)
		switch user {
		case "bob":
			return http.StatusNoContent, ""
		case "carol":
			return http.StatusInternalServerError, ""
		}
		return http.StatusOK, `{"data":{"for":"` + user + `","doc":` + string(body["data"]) + `}}`
	})
	e := newEnv(t, halley.Config{}, httpapi.Options{Hooks: backend.hooks()})
	e.createNotifier(map[string]any{"name": "docs", "prepare_url": backend.srv.URL + "/prepare"})
	chans := map[string]string{}
	for _, u := range []string{"alice", "bob", "carol"} {
		chans[u] = e.listen(e.newSession(u), "docs", "42")
	}
	if n := e.notify(`{"notifier":"docs","key":"42","data":{"v":2}}`); n != 1 {
		t.Errorf("listeners = %d, want alice only", n)
	}
	if got, want := e.readAll(chans["alice"]), `{"notifier":"docs","key":"42","json":{"for":"alice","doc":{"v":2}}}`; len(got) != 1 || got[0] != want {
		t.Errorf("alice got %q, want %s", got, want)
	}
	for _, u := range []string{"bob", "carol"} {
		if c, _ := e.hub.Channel(chans[u]); c.Offset() != 0 {
			t.Errorf("%s got a notification", u)
		}
	}
	if got := len(backend.requests()); got != 3 {
		t.Errorf("backend asked %d times, want 3", got)
	}
}
