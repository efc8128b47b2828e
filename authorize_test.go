package halley_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/auth/jwt"
	"github.com/halleyhq/halley/internal/wire/frame"
)

var testSecret = []byte("a test secret of at least 32 bytes, for HS256")

// tokenHub returns a hub whose clients authenticate with HS256 tokens
// signed with testSecret, and its server.
func tokenHub(t *testing.T, cfg halley.Config) (*halley.Hub, *httptest.Server) {
	t.Helper()
	a, err := jwt.New(context.Background(), jwt.Options{HMACSecret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	cfg.Authorizer = a
	h := newHub(t, cfg)
	return h, cometServer(t, h)
}

// mint returns a token of sub with the given rights, valid for ttl.
func mint(t testing.TB, sub string, ttl time.Duration, channels, write, listen []string) string {
	t.Helper()
	tok, err := jwt.Mint(testSecret, jwt.MintOptions{Subject: sub, TTL: ttl, Channels: channels, Write: write, Listen: listen})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

func TestAuth_AnonymousReadsPublicChannelsOnly(t *testing.T) {
	h, srv := tokenHub(t, halley.Config{})
	newChannel(t, h, halley.ChannelOptions{Name: "news", Public: true})
	newChannel(t, h, halley.ChannelOptions{Name: "secret"})
	p := doPoll(t, srv, "", pollReq{Channels: []string{"news", "secret", "nonexistent"}})
	fs := p.frames(t)
	if len(fs) != 3 || fs[0].Type != frame.TypeSubscribed ||
		fs[1].Type != frame.TypeEnded || fs[1].Reason != "forbidden" ||
		fs[2].Type != frame.TypeEnded || fs[2].Reason != "forbidden" {
		t.Fatalf("anonymous poll: %s; want news subscribed, secret and nonexistent forbidden alike", showAll(fs))
	}
	if got := poll(t, srv, "registration=secret").body; got != "secret:ENDED_CHANNEL" {
		t.Fatalf("anonymous /comet of a channel it may not read: %q", got)
	}
}

func TestAuth_RightsByPattern(t *testing.T) {
	h, srv := tokenHub(t, halley.Config{})
	for _, name := range []string{"news", "user:alice", "user:alice:inbox", "user:bob"} {
		newChannel(t, h, halley.ChannelOptions{Name: name})
	}
	tok := mint(t, "alice", time.Hour, []string{"news", "user:alice*"}, nil, nil)
	sc := openSSEHeader(t, srv, "channel=news&channel=user:alice&channel=user:alice:inbox&channel=user:bob&channel=user:nobody", bearer(tok))
	sc.hello(t)
	var got []string
	for range 5 {
		_, f := sc.next(t)
		got = append(got, f.Channel+"="+f.Type+":"+f.Reason)
	}
	want := "news=subscribed:,user:alice=subscribed:,user:alice:inbox=subscribed:,user:bob=ended:forbidden,user:nobody=ended:forbidden"
	if strings.Join(got, ",") != want {
		t.Fatalf("frames %v, want %s", got, want)
	}
}

func TestAuth_BadTokensRefused401(t *testing.T) {
	_, srv := tokenHub(t, halley.Config{})
	expired, err := jwt.Mint(testSecret, jwt.MintOptions{Subject: "alice", TTL: time.Hour, Now: func() time.Time { return time.Now().Add(-2 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ token, reason string }{
		{"not.a.token", "invalid_token"},
		{expired, "token_expired"},
		{strings.Repeat("x", halley.MaxTokenLen+1), "invalid_token"},
	} {
		for _, path := range []string{"/sse?channel=news", "/poll"} {
			method, ctype, body := "GET", "", ""
			if path == "/poll" {
				method, ctype, body = "POST", "application/json", `{"channels":["news"]}`
			}
			code, hd, b := request(t, srv, method, path, ctype, body, bearer(tc.token))
			if code != http.StatusUnauthorized || reasonOf(b) != tc.reason || !strings.HasPrefix(hd.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s with a %s token: %d %s (WWW-Authenticate %q), want 401 %s", path, tc.reason, code, b, hd.Get("WWW-Authenticate"), tc.reason)
			}
			// The query parameter is read the same way.
			sep := "?"
			if strings.Contains(path, "?") {
				sep = "&"
			}
			code, _, b = request(t, srv, method, path+sep+"token="+url.QueryEscape(tc.token), ctype, body, nil)
			if code != http.StatusUnauthorized || reasonOf(b) != tc.reason {
				t.Errorf("%s with a %s token in the query: %d %s", path, tc.reason, code, b)
			}
		}
	}
}

func TestAuth_WriteAndListenNeedRights(t *testing.T) {
	h, srv := tokenHub(t, halley.Config{})
	if _, err := h.NewBus(testCtx(t), halley.BusOptions{Name: "chat", Public: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := halley.NewSimpleNotifier[string, string](h, "docs"); err != nil {
		t.Fatal(err)
	}
	reader := mint(t, "bob", time.Hour, nil, nil, nil)
	writer := mint(t, "alice", time.Hour, nil, []string{"chat"}, []string{"docs:4*"})
	for _, tc := range []struct {
		token, path, body string
		code              int
	}{
		{reader, "/write", `{"channel":"chat","data":"hi"}`, http.StatusForbidden},
		{"", "/write", `{"channel":"chat","data":"hi"}`, http.StatusForbidden},
		{writer, "/write", `{"channel":"chat","data":"hi"}`, http.StatusOK},
		{writer, "/write", `{"channel":"nope","data":"hi"}`, http.StatusForbidden},
		{reader, "/listen", `{"notifier":"docs","key":"42"}`, http.StatusForbidden},
		{writer, "/listen", `{"notifier":"docs","key":"42"}`, http.StatusOK},
		{writer, "/listen", `{"notifier":"docs","key":"7"}`, http.StatusForbidden},
	} {
		var hd http.Header
		if tc.token != "" {
			hd = bearer(tc.token)
		}
		code, _, b := request(t, srv, "POST", tc.path, "application/json", tc.body, hd)
		if code != tc.code || (code == http.StatusForbidden && reasonOf(b) != "forbidden") {
			t.Errorf("%s %s: %d %s, want %d", tc.path, tc.body, code, b, tc.code)
		}
	}
	// A public bus is readable by anybody, not writable.
	if p := doPoll(t, srv, "", pollReq{Channels: []string{"chat"}, Last: 5}); len(p.frames(t)) != 2 {
		t.Fatalf("anonymous read of a public bus: %s", showAll(p.frames(t)))
	}
}

func TestAuth_SessionBoundToItsUser(t *testing.T) {
	h, srv := tokenHub(t, halley.Config{})
	newChannel(t, h, halley.ChannelOptions{Name: "news", Public: true})
	alice := mint(t, "alice", time.Hour, nil, nil, nil)
	bob := mint(t, "bob", time.Hour, nil, nil, nil)
	pollWith := func(session, tok string) string {
		body := `{"channels":["news"]}`
		hd := http.Header{}
		if tok != "" {
			hd = bearer(tok)
		}
		if session != "" {
			hd.Set(halley.SessionHeader, session)
		}
		code, rh, b := request(t, srv, "POST", "/poll", "application/json", body, hd)
		if code != 200 {
			t.Fatalf("poll: %d %s", code, b)
		}
		if id := rh.Get(halley.SessionHeader); id != "" {
			return id
		}
		return session
	}
	h.SetPollTimeout(time.Millisecond, false)
	s := pollWith("", alice)
	if got, _ := h.Session(s); got.User() != "alice" {
		t.Fatalf("the token's sub did not become the session's user: %q", got.User())
	}
	if again := pollWith(s, alice); again != s {
		t.Fatal("alice lost her own session")
	}
	// A stolen session id is worth nothing without its user's token.
	if other := pollWith(s, bob); other == s {
		t.Fatal("bob's token got alice's session")
	}
	if anon := pollWith(s, ""); anon == s {
		t.Fatal("an anonymous request got alice's session")
	}
	// A session made without a user takes the first user that comes.
	fresh, _ := h.NewSession()
	if got := pollWith(fresh.ID(), bob); got != fresh.ID() || fresh.User() != "bob" {
		t.Fatalf("a session without a user: %s %q", got, fresh.User())
	}
}

func TestAuth_SSEClosesAtExpiryAndResumes(t *testing.T) {
	h, srv := tokenHub(t, halley.Config{})
	c := newChannel(t, h, halley.ChannelOptions{Name: "news"})
	short := mint(t, "alice", 2*time.Second, []string{"news"}, nil, nil)
	sc := openSSEHeader(t, srv, "channel=news", bearer(short))
	sc.hello(t)
	id := sc.subscribed(t, "news", 0)
	write(t, c, "1")
	ev := sc.msg(t, "news", 1, "1")
	sc.closed(t, "token_expired")
	// Written while the client was away: it resumes with a new token
	// from the last id it got, and loses nothing.
	write(t, c, "2")
	write(t, c, "3")
	_ = id
	fresh := mint(t, "alice", time.Hour, []string{"news"}, nil, nil)
	sc2 := openSSEHeaderLastID(t, srv, "", ev.id, bearer(fresh))
	sc2.hello(t)
	sc2.msg(t, "news", 2, "2")
	sc2.msg(t, "news", 3, "3")
}

func TestAuth_PollAnswersAtExpiry(t *testing.T) {
	for _, parked := range []bool{false, true} {
		t.Run(fmt.Sprintf("parked=%v", parked), func(t *testing.T) {
			h, srv := tokenHub(t, halley.Config{})
			if parked {
				serveReturned(t, h, srv)
			}
			testPollAnswersAtExpiry(t, h, srv)
		})
	}
}

func testPollAnswersAtExpiry(t *testing.T, h *halley.Hub, srv *httptest.Server) {
	newChannel(t, h, halley.ChannelOptions{Name: "news"})
	short := mint(t, "alice", 2*time.Second, []string{"news"}, nil, nil)
	pollWith := func(body string) pollAnswer {
		req, _ := http.NewRequestWithContext(testCtx(t), "POST", srv.URL+"/poll", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+short)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return decodePollAnswer(t, resp)
	}
	first := pollWith(`{"channels":["news"]}`)
	if fs := first.frames(t); len(fs) != 1 || fs[0].Type != frame.TypeSubscribed {
		t.Fatalf("first poll: %s", showAll(fs))
	}
	// The poll timeout is 20 s: the next poll answers at the token's end.
	a := pollWith(`{"cursor":"` + first.Cursor + `"}`)
	fs := a.frames(t)
	if len(fs) != 1 || fs[0].Type != frame.TypeClose || fs[0].Reason != "token_expired" || a.Cursor != first.Cursor {
		t.Fatalf("a poll whose token expires: %s (cursor %q), want close token_expired, with the cursor", showAll(fs), a.Cursor)
	}
}

func TestAuth_WSRefreshKeepsTheStream(t *testing.T) {
	h, srv := tokenHub(t, halley.Config{})
	c := newChannel(t, h, halley.ChannelOptions{Name: "news"})
	newChannel(t, h, halley.ChannelOptions{Name: "vip"})
	first := mint(t, "alice", 2*time.Second, []string{"news", "vip"}, nil, nil)
	ws := dialWS(t, srv, "", &websocket.DialOptions{HTTPHeader: bearer(first)})
	ws.subscribed("news", "", 0)
	ws.subscribed("vip", "", 0)
	// A token of another user is refused; the stream goes on.
	ws.send(`{"type":"refresh","token":"` + mint(t, "bob", time.Hour, []string{"*"}, nil, nil) + `","ref":"r0"}`)
	if f := ws.next(); f.Type != frame.TypeError || f.Reason != "forbidden" || f.Ref != "r0" {
		t.Fatalf("refresh with bob's token: %s", show(f))
	}
	// The new token drops vip: that subscription ends, news goes on.
	second := mint(t, "alice", time.Hour, []string{"news"}, nil, nil)
	ws.send(`{"type":"refresh","token":"` + second + `","ref":"r1"}`)
	if f := ws.next(); f.Type != frame.TypeEnded || f.Channel != "vip" || f.Reason != "forbidden" {
		t.Fatalf("after a refresh without vip: %s", show(f))
	}
	f := ws.next()
	if f.Type != frame.TypeRefreshed || f.Ref != "r1" || f.Expires < time.Now().Add(50*time.Minute).Unix() {
		t.Fatalf("refresh answer %s", show(f))
	}
	// Wait on the clock until the first token is over, then check that
	// the stream is still there.
	<-time.After(time.Until(time.Now().Add(2500 * time.Millisecond)))
	write(t, c, "after the first token")
	ws.msg("news", 1, "after the first token")
}

func TestAuth_WSClosesAtExpiryWithoutRefresh(t *testing.T) {
	h, srv := tokenHub(t, halley.Config{})
	newChannel(t, h, halley.ChannelOptions{Name: "news"})
	short := mint(t, "alice", time.Second, []string{"news"}, nil, nil)
	ws := dialWS(t, srv, "token="+url.QueryEscape(short), nil)
	ws.subscribed("news", "", 0)
	ws.closedWith(frame.TypeClose, "token_expired", 4401)
}

// openSSEHeader opens a stream with extra request headers.
func openSSEHeader(t testing.TB, srv *httptest.Server, query string, hd http.Header) *sseClient {
	t.Helper()
	return openSSEHeaderLastID(t, srv, query, "", hd)
}

func openSSEHeaderLastID(t testing.TB, srv *httptest.Server, query, lastID string, hd http.Header) *sseClient {
	t.Helper()
	req, err := http.NewRequestWithContext(testCtx(t), http.MethodGet, srv.URL+"/sse?"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hd {
		req.Header[k] = v
	}
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET /sse?%s: %d %s", query, resp.StatusCode, b)
	}
	return &sseClient{resp: resp, r: bufio.NewReader(resp.Body)}
}

func decodePollAnswer(t testing.TB, resp *http.Response) pollAnswer {
	t.Helper()
	var a pollAnswer
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatalf("answer %q: %v", raw, err)
	}
	a.status = resp.StatusCode
	return a
}

func TestAuth_WSRefreshesRateLimited(t *testing.T) {
	_, srv := tokenHub(t, halley.Config{})
	ws := dialWS(t, srv, "", &websocket.DialOptions{HTTPHeader: bearer(mint(t, "alice", time.Hour, nil, nil, nil))})
	for i := range 4 {
		ws.send(fmt.Sprintf(`{"type":"refresh","token":%q,"ref":"r%d"}`, mint(t, "alice", time.Hour, nil, nil, nil), i))
		f := ws.next()
		if i < 3 && f.Type != frame.TypeRefreshed || i == 3 && (f.Type != frame.TypeError || f.Reason != "rate_limited") {
			t.Fatalf("refresh %d: %s; want three refreshed, then rate_limited", i, show(f))
		}
	}
}
