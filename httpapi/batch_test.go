package httpapi_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/httpapi"
)

// batchAnswer is the answer of a batch publish.
type batchAnswer struct {
	Results []struct {
		Offset    uint64 `json:"offset"`
		Delivered int    `json:"delivered"`
		Error     string `json:"error"`
		Message   string `json:"message"`
		Status    int    `json:"status"`
	} `json:"results"`
	Published int `json:"published"`
	Failed    int `json:"failed"`
}

func TestPublishBatch(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{})
	a := e.createChannel(map[string]any{"name": "a"})
	b := e.createChannel(map[string]any{"name": "b"})
	res := e.do(http.MethodPost, "/api/publish", "application/json", ` [
		{"channel":"a","data":"one"},
		{"channel":"b","data":{"n": 1}},
		{"channel":"nope","data":1},
		{"data":"two","channel":"a"},
		{"channel":"\u0061","data":"thr\u0065e"}
	] `)
	if res.status != http.StatusOK {
		t.Fatalf("status %d (body %s), want 200", res.status, res.body)
	}
	var ans batchAnswer
	if err := json.Unmarshal(res.body, &ans); err != nil {
		t.Fatalf("answer %q: %v", res.body, err)
	}
	if len(ans.Results) != 5 || ans.Published != 4 || ans.Failed != 1 {
		t.Fatalf("answer %s: want 5 results, 4 published, 1 failed", res.body)
	}
	offsets := []uint64{1, 1, 0, 2, 3}
	for i, r := range ans.Results {
		if r.Offset != offsets[i] {
			t.Errorf("result %d: offset %d, want %d (answer %s)", i, r.Offset, offsets[i], res.body)
		}
	}
	if r := ans.Results[2]; r.Error != "unknown_channel" || r.Status != http.StatusNotFound || !strings.Contains(r.Message, "nope") {
		t.Errorf("result 2 = %+v, want unknown_channel, 404, naming the channel", r)
	}
	if got := e.readAll(a); !slices.Equal(got, []string{"one", "two", "three"}) {
		t.Errorf("channel a = %q, want one, two, three in order", got)
	}
	if got := e.readAll(b); !slices.Equal(got, []string{`{"n":1}`}) {
		t.Errorf("channel b = %q, want the object compacted", got)
	}
}

// A fault in any item refuses the whole batch: nothing is published.
func TestPublishBatch_Refused(t *testing.T) {
	many := "[" + strings.Repeat(`{"channel":"a","data":1},`, httpapi.MaxBatch) + `{"channel":"a","data":1}]`
	tests := []struct {
		name, body, reason, message string
	}{
		{"missing data", `[{"channel":"a","data":1},{"channel":"a"}]`, "bad_request", `item 1: "data" is required`},
		{"missing channel", `[{"data":1}]`, "bad_request", `item 0: "channel" is required`},
		{"unknown field", `[{"channel":"a","data":1,"x":2}]`, "bad_json", "item 0"},
		{"bad data", `[{"channel":"a","data":1},{"channel":"a","data":[1,}]`, "bad_json", "item 1"},
		{"not an object", `[{"channel":"a","data":1}, 7]`, "bad_json", "item 1: an item must be a JSON object"},
		{"no comma", `[{"channel":"a","data":1} {"channel":"a","data":2}]`, "bad_json", "after item 0"},
		{"unclosed", `[{"channel":"a","data":1}`, "bad_json", "after item 0"},
		{"after the array", `[{"channel":"a","data":1}] x`, "bad_json", "data after the array"},
		{"empty", `[ ]`, "bad_request", "no message"},
		{"too many", many, "bad_request", "at most 1000 messages"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, halley.Config{}, httpapi.Options{})
			a := e.createChannel(map[string]any{"name": "a"})
			res := e.do(http.MethodPost, "/api/publish", "application/json", tt.body)
			expectError(t, res, http.StatusBadRequest, tt.reason)
			if msg, _ := res.json(t)["message"].(string); !strings.Contains(msg, tt.message) {
				t.Errorf("message %q, want it to say %q", msg, tt.message)
			}
			info := e.do(http.MethodGet, "/api/channels/"+a, "", "")
			if off := info.json(t)["offset"]; off != 0.0 {
				t.Errorf("channel a at offset %v after a refused batch, want 0 (nothing published)", off)
			}
		})
	}
}

// A bus filter's refusal is one item's result, with its reason.
func TestPublishBatch_HubErrors(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{})
	sid := e.post("/api/sessions", nil).json(t)["id"].(string)
	q := e.createChannel(map[string]any{"kind": "session", "session": sid, "size": 1})
	res := e.do(http.MethodPost, "/api/publish", "application/json",
		`[{"channel":"`+q+`","data":"one"},{"channel":"`+q+`","data":"two"}]`)
	var ans batchAnswer
	if err := json.Unmarshal(res.body, &ans); err != nil || res.status != http.StatusOK {
		t.Fatalf("answer %d %q: %v", res.status, res.body, err)
	}
	if len(ans.Results) != 2 || ans.Results[0].Offset != 1 || ans.Results[1].Error != "channel_full" ||
		ans.Results[1].Status != http.StatusConflict || ans.Published != 1 || ans.Failed != 1 {
		t.Errorf("answer %s: want offset 1, then channel_full 409", res.body)
	}
}

func TestPublishBatch_MediaType(t *testing.T) {
	e := newEnv(t, halley.Config{}, httpapi.Options{APIKey: "k"})
	expectError(t, e.do(http.MethodPost, "/api/publish", "text/plain", `[{"channel":"a","data":1}]`),
		http.StatusUnsupportedMediaType, "unsupported_media_type")
}
