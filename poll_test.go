package halley_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/internal/wire/frame"
)

type pollAnswer struct {
	status  int
	Session string            `json:"session"`
	Cursor  string            `json:"cursor"`
	Frames  []json.RawMessage `json:"frames"`
	Error   string            `json:"error"`
}

func (a pollAnswer) frames(t testing.TB) []frame.Frame {
	t.Helper()
	out := make([]frame.Frame, len(a.Frames))
	for i, raw := range a.Frames {
		f, err := frame.Decode(raw)
		if err != nil {
			t.Fatalf("frame %s: %v", raw, err)
		}
		out[i] = f
	}
	return out
}

func doPoll(t testing.TB, srv *httptest.Server, session string, body any) pollAnswer {
	t.Helper()
	a, _ := pollOn(t, srv.Client(), srv.URL, session, body)
	return a
}

// pollOn sends a poll through hc and says whether it went on a
// connection used before. A failure is reported with t.Errorf (it may
// run on a goroutine of the test's), and the answer is then empty.
func pollOn(t testing.TB, hc *http.Client, url, session string, body any) (pollAnswer, bool) {
	t.Helper()
	b, _ := json.Marshal(body)
	var reused bool
	ctx := httptrace.WithClientTrace(testCtx(t), &httptrace.ClientTrace{
		GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused },
	})
	req, _ := http.NewRequestWithContext(ctx, "POST", url+"/poll", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if session != "" {
		req.Header.Set(halley.SessionHeader, session)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Errorf("POST /poll: %v", err)
		return pollAnswer{}, false
	}
	defer resp.Body.Close()
	var a pollAnswer
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Errorf("answer %q: %v", raw, err)
	}
	a.status = resp.StatusCode
	return a, reused
}

type pollReq struct {
	Channels []string `json:"channels,omitempty"`
	Cursor   string   `json:"cursor,omitempty"`
	Last     int      `json:"last,omitempty"`
}

func TestPoll_SubscribeThenReceive(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	c := newChannel(t, h, halley.ChannelOptions{Name: "news"})
	write(t, c, "before")

	// The first poll answers at once with where the client stands.
	a := doPoll(t, srv, "", pollReq{Channels: []string{"news"}})
	fs := a.frames(t)
	if a.status != 200 || a.Session == "" || len(fs) != 1 || fs[0].Type != "subscribed" || *fs[0].Offset != 1 {
		t.Fatalf("first answer %+v %+v", a, fs)
	}
	// The next one waits for data.
	got := make(chan pollAnswer, 1)
	go func() { got <- doPoll(t, srv, a.Session, pollReq{Cursor: a.Cursor}) }()
	if err := c.WaitListeners(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	if o := write(t, c, `{"n":2}`); o.Delivered != 1 {
		t.Fatalf("delivered %d", o.Delivered)
	}
	b := <-got
	fs = b.frames(t)
	if len(fs) != 1 || fs[0].Type != "msg" || *fs[0].Offset != 2 || string(fs[0].Data()) != `{"n":2}` {
		t.Fatalf("second answer %+v", b)
	}
	if b.Session != a.Session || !strings.HasPrefix(b.Cursor, "news:2:") {
		t.Fatalf("session %q cursor %q", b.Session, b.Cursor)
	}
}

func TestPoll_LostAnswerIsRepeated(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	c := newChannel(t, h, halley.ChannelOptions{Name: "news"})
	a := doPoll(t, srv, "", pollReq{Channels: []string{"news"}})
	write(t, c, "x")
	write(t, c, "y")
	// The same cursor twice: the same frames twice.
	first := doPoll(t, srv, a.Session, pollReq{Cursor: a.Cursor})
	again := doPoll(t, srv, a.Session, pollReq{Cursor: a.Cursor})
	if fmt.Sprint(first.Frames) != fmt.Sprint(again.Frames) || len(first.Frames) != 2 {
		t.Fatalf("repeated poll differs:\n%s\n%s", first.Frames, again.Frames)
	}
}

func TestPoll_SessionChannelReplay(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	a := doPoll(t, srv, "", pollReq{Channels: []string{"nothing-yet"}})
	s, ok := h.Session(a.Session)
	if !ok {
		t.Fatalf("session %q not found", a.Session)
	}
	c := newChannel(t, h, halley.ChannelOptions{Kind: halley.KindSession, Session: s, Size: 2, Name: "inbox"})
	sub := doPoll(t, srv, a.Session, pollReq{Channels: []string{"inbox"}})
	write(t, c, "1")
	write(t, c, "2")
	// An answer lost in flight: asking again with the same cursor gets
	// the same messages, which stay unacknowledged.
	for range 2 {
		fs := doPoll(t, srv, a.Session, pollReq{Cursor: sub.Cursor}).frames(t)
		if len(fs) != 2 || string(fs[0].Data()) != "1" || string(fs[1].Data()) != "2" {
			t.Fatalf("replay %+v", fs)
		}
	}
	if _, err := c.Write(testCtx(t), []byte("3")); err == nil {
		t.Fatal("unacknowledged queue of 2 took a third message")
	}
	// The dead channel is reported as ended.
	fs := doPoll(t, srv, a.Session, pollReq{Cursor: sub.Cursor}).frames(t)
	if len(fs) != 1 || fs[0].Type != "ended" || fs[0].Reason != "channel_full" {
		t.Fatalf("dead session channel: %+v", fs)
	}
}

func TestPoll_GapAndUnknownPosition(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	c := newChannel(t, h, halley.ChannelOptions{Name: "news", Size: 3})
	for i := 1; i <= 6; i++ {
		write(t, c, fmt.Sprint(i))
	}
	epoch := strings.Split(doPoll(t, srv, "", pollReq{Channels: []string{"news"}}).Cursor, ":")[2]
	tests := []struct {
		name   string
		cursor string
		reason string
		offset uint64
	}{
		{name: "ChannelFull", cursor: "news:1:" + epoch, reason: "channel_full", offset: 3},
		{name: "WrongEpoch", cursor: "news:5:other", reason: "unknown_position", offset: 3},
		{name: "BeyondTheEnd", cursor: "news:99:", reason: "unknown_position", offset: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := doPoll(t, srv, "", pollReq{Cursor: tt.cursor}).frames(t)
			if len(fs) < 1 || fs[0].Type != "gap" || fs[0].Reason != tt.reason || *fs[0].Offset != tt.offset {
				t.Fatalf("frames %+v, want a %s gap at %d", fs, tt.reason, tt.offset)
			}
			var got []string
			for _, f := range fs[1:] {
				got = append(got, string(f.Data()))
			}
			if fmt.Sprint(got) != "[4 5 6]" {
				t.Fatalf("after the gap: %v", got)
			}
		})
	}
}

func TestPoll_LastN(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	c := newChannel(t, h, halley.ChannelOptions{Name: "news"})
	for i := 1; i <= 5; i++ {
		write(t, c, fmt.Sprint(i))
	}
	// One round trip: where the client stands, then exactly the last 2.
	fs := doPoll(t, srv, "", pollReq{Channels: []string{"news"}, Last: 2}).frames(t)
	if len(fs) != 3 || fs[0].Type != "subscribed" || *fs[0].Offset != 3 {
		t.Fatalf("frames %+v", fs)
	}
	var got []string
	for _, f := range fs[1:] {
		got = append(got, string(f.Data()))
	}
	if fmt.Sprint(got) != "[4 5]" {
		t.Fatalf("last 2: %v (the original gave n+1)", got)
	}
}

func TestPoll_Ended(t *testing.T) {
	h := newHub(t, halley.Config{})
	srv := cometServer(t, h)
	fs := doPoll(t, srv, "", pollReq{Channels: []string{"nope"}}).frames(t)
	if len(fs) != 1 || fs[0].Type != "ended" || fs[0].Reason != "unknown_channel" {
		t.Fatalf("unknown channel: %+v", fs)
	}
	c := newChannel(t, h, halley.ChannelOptions{Name: "news"})
	a := doPoll(t, srv, "", pollReq{Channels: []string{"news"}})
	got := make(chan pollAnswer, 1)
	go func() { got <- doPoll(t, srv, a.Session, pollReq{Cursor: a.Cursor}) }()
	if err := c.WaitListeners(testCtx(t), 1); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	b := <-got
	fs = b.frames(t)
	if len(fs) != 1 || fs[0].Type != "ended" || fs[0].Reason != "channel_ended" || b.Cursor != "" {
		t.Fatalf("closed channel: %+v cursor %q", fs, b.Cursor)
	}
}

func TestPoll_TimeoutAndControl(t *testing.T) {
	h := newHub(t, halley.Config{PollTimeout: time.Millisecond})
	srv := cometServer(t, h)
	newChannel(t, h, halley.ChannelOptions{Name: "news"})
	a := doPoll(t, srv, "", pollReq{Channels: []string{"news"}})
	b := doPoll(t, srv, a.Session, pollReq{Cursor: a.Cursor})
	if b.status != 200 || len(b.Frames) != 0 || b.Cursor != a.Cursor {
		t.Fatalf("timeout answer %+v", b)
	}
	h.Deactivate()
	if d := doPoll(t, srv, a.Session, pollReq{Cursor: a.Cursor}); d.status != 503 || d.Error != "deactivated" {
		t.Fatalf("deactivated: %+v", d)
	}
}

func TestPoll_BadRequests(t *testing.T) {
	h := newHub(t, halley.Config{MaxRequestBody: 2048})
	srv := cometServer(t, h)
	many := make([]string, halley.MaxSubscriptions+1)
	for i := range many {
		many[i] = fmt.Sprint("c", i)
	}
	manyBody, _ := json.Marshal(pollReq{Channels: many})
	tests := []struct {
		name, method, ctype, body string
		status                    int
		reason                    string
	}{
		{"NoChannels", "POST", "application/json", `{}`, 400, "bad_request"},
		{"BadJSON", "POST", "application/json", `{"channels":`, 400, "bad_request"},
		{"UnknownField", "POST", "application/json", `{"chanels":["a"]}`, 400, "bad_request"},
		{"NegativeLast", "POST", "application/json", `{"channels":["a"],"last":-1}`, 400, "bad_request"},
		{"EmptyID", "POST", "application/json", `{"channels":[""]}`, 400, "bad_request"},
		{"BadCursor", "POST", "application/json", `{"cursor":"news"}`, 400, "bad_cursor"},
		{"TooMany", "POST", "application/json", string(manyBody), 400, "too_many_subscriptions"},
		{"TooLarge", "POST", "application/json", `{"channels":["` + strings.Repeat("x", 4000) + `"]}`, 413, "body_too_large"},
		{"MediaType", "POST", "text/plain", `{}`, 415, "unsupported_media_type"},
		{"Method", "GET", "application/json", ``, 405, "method_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(testCtx(t), tt.method, srv.URL+"/poll", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", tt.ctype)
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var e struct{ Error string }
			_ = json.NewDecoder(resp.Body).Decode(&e)
			if resp.StatusCode != tt.status || e.Error != tt.reason {
				t.Fatalf("got %d %q, want %d %q", resp.StatusCode, e.Error, tt.status, tt.reason)
			}
		})
	}
}
