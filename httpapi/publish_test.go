package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/httpapi"
	"github.com/halleyhq/halley/internal/wire/ocsigen"
)

func TestPublish_OffsetDelivered(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{})
	id := e.createChannel(nil)
	for want := 1.0; want <= 3; want++ {
		res := e.post("/api/publish", map[string]any{"channel": id, "data": "x"})
		if res.status != http.StatusOK {
			t.Fatalf("status = %d, want 200 (body %s)", res.status, res.body)
		}
		m := res.json(t)
		if m["offset"] != want || m["delivered"] != 0.0 {
			t.Errorf("answer = %s, want offset %v delivered 0", res.body, want)
		}
	}
}

func TestPublish_Data(t *testing.T) {
	tests := []struct {
		name string
		data string // the JSON text of "data"
		want string // the message bytes
	}{
		{name: "string", data: `"hello world & more"`, want: "hello world & more"},
		{name: "string with escapes", data: `"line\nnext \"q\" \u00e9"`, want: "line\nnext \"q\" é"},
		{name: "empty string", data: `""`, want: ""},
		{name: "object compacted", data: `{ "a" : 1, "b" : [ true , null ] }`, want: `{"a":1,"b":[true,null]}`},
		{name: "number as sent", data: `1.50`, want: `1.50`},
		{name: "array", data: `[1, "two"]`, want: `[1,"two"]`},
		{name: "true", data: `true`, want: `true`},
		{name: "null", data: `null`, want: `null`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, halley.Config{}, httpapi.Options{})
			id := e.createChannel(nil)
			res := e.do(http.MethodPost, "/api/publish", "application/json", `{"channel":"`+id+`","data":`+tt.data+`}`)
			if res.status != http.StatusOK {
				t.Fatalf("status = %d, want 200 (body %s)", res.status, res.body)
			}
			got := e.readAll(id)
			if len(got) != 1 || got[0] != tt.want {
				t.Errorf("messages = %q, want [%q]", got, tt.want)
			}
		})
	}
}

func TestPublish_UnknownChannel(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{})
	expectError(t, e.post("/api/publish", map[string]any{"channel": "nope", "data": 1}), http.StatusNotFound, "unknown_channel")
}

func TestPublish_DeliveredToWaitingClient(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{})
	id := e.createChannel(nil)
	done := e.poll(id)

	// Each try is a real message; the first that reached the waiting
	// client is the one it answers with.
	var sent string
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for i := 0; sent == ""; i++ {
		data := "hello world & more " + strconv.Itoa(i)
		res := e.post("/api/publish", map[string]any{"channel": id, "data": data})
		if res.status != http.StatusOK {
			t.Fatalf("publish: %d %s", res.status, res.body)
		}
		switch d := res.json(t)["delivered"]; d {
		case 1.0:
			sent = data
		case 0.0:
			select {
			case <-ctx.Done():
				t.Fatal("the poll never started waiting")
			case <-time.After(time.Millisecond):
			}
		default:
			t.Fatalf("delivered = %v, want 0 or 1", d)
		}
	}
	r := waitPoll(t, done)
	lines, err := ocsigen.ParseResponse([]byte(r.body))
	if err != nil {
		t.Fatalf("ParseResponse(%q): %v", r.body, err)
	}
	if r.status != http.StatusOK || len(lines) != 1 || lines[0].ID != id || string(lines[0].Value) != sent {
		t.Errorf("poll = %d %q, want one line with %q", r.status, r.body, sent)
	}
}

func TestPublish_SessionChannel(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{})
	sid := e.post("/api/sessions", nil).json(t)["id"].(string)
	id := e.createChannel(map[string]any{"kind": "session", "session": sid, "size": 1})
	res := e.post("/api/publish", map[string]any{"channel": id, "data": "one"})
	if res.status != http.StatusOK {
		t.Fatalf("publish: %d %s", res.status, res.body)
	}
	// The queue holds one unread message: the next overflows it.
	expectError(t, e.post("/api/publish", map[string]any{"channel": id, "data": "two"}), http.StatusConflict, "channel_full")
}

func TestPublish_AfterShutdown(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{})
	id := e.createChannel(nil)
	if err := e.hub.Shutdown(t.Context()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	expectError(t, e.post("/api/publish", map[string]any{"channel": id, "data": 1}), http.StatusServiceUnavailable, "shutdown")
	expectError(t, e.post("/api/channels", map[string]any{}), http.StatusServiceUnavailable, "shutdown")
}

func TestPublish_Missing(t *testing.T) {
	tests := []struct {
		name string
		body any
	}{
		{name: "no channel", body: map[string]any{"data": 1}},
		{name: "empty channel", body: map[string]any{"channel": "", "data": 1}},
		{name: "no data", body: map[string]any{"channel": "x"}},
		{name: "empty object", body: map[string]any{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, halley.Config{}, httpapi.Options{})
			b, _ := json.Marshal(tt.body)
			expectError(t, e.do(http.MethodPost, "/api/publish", "application/json", string(b)), http.StatusBadRequest, "bad_request")
		})
	}
}

func TestPublish_LazyChannel(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{})
	_, err := e.hub.NewChannel(t.Context(), halley.ChannelOptions{
		Name: "clock",
		Kind: halley.KindLazy,
		Producer: func(ctx context.Context) ([]byte, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		},
	})
	if err != nil {
		t.Fatalf("NewChannel: %v", err)
	}
	expectError(t, e.post("/api/publish", map[string]any{"channel": "clock", "data": 1}), http.StatusBadRequest, "wrong_kind")
}
