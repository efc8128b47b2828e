package halley_test

import (
	"net/http"
	"testing"

	"github.com/coder/websocket"

	"github.com/halleyhq/halley"
)

func TestCORS_AllowedOriginPreflightAndAnswers(t *testing.T) {
	h := newHub(t, halley.Config{AllowedOrigins: []string{"https://*.example.com"}, PollTimeout: 1})
	srv := cometServer(t, h)
	newChannel(t, h, halley.ChannelOptions{Name: "news"})
	page := "https://app.example.com"
	pre := http.Header{
		"Origin":                         {page},
		"Access-Control-Request-Method":  {"POST"},
		"Access-Control-Request-Headers": {"content-type, authorization"},
	}
	for _, path := range []string{"/poll", "/write", "/listen", "/unlisten", "/comet", "/sse"} {
		code, hd, body := request(t, srv, "OPTIONS", path, "", "", pre)
		if code != http.StatusNoContent || hd.Get("Access-Control-Allow-Origin") != page ||
			hd.Get("Access-Control-Allow-Credentials") != "true" || hd.Get("Access-Control-Allow-Headers") == "" {
			t.Errorf("preflight of %s: %d %q %v", path, code, body, hd)
		}
	}
	code, hd, body := request(t, srv, "POST", "/poll", "application/json", `{"channels":["news"]}`, http.Header{"Origin": {page}})
	if code != 200 || hd.Get("Access-Control-Allow-Origin") != page || hd.Get("Access-Control-Expose-Headers") != halley.SessionHeader {
		t.Fatalf("poll from an allowed origin: %d %s %v", code, body, hd)
	}
	// http:// is not https://, and another domain is not a subdomain.
	for _, o := range []string{"http://app.example.com", "https://example.com.evil.net"} {
		code, hd, _ := request(t, srv, "OPTIONS", "/poll", "", "", http.Header{"Origin": {o}, "Access-Control-Request-Method": {"POST"}})
		if code != http.StatusForbidden || hd.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("preflight from %s: %d %v, want 403", o, code, hd)
		}
	}
	ws := dialWS(t, srv, "", &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {page}}})
	ws.subscribed("news", "", 0)
}

func TestHub_BadOriginPatternRefused(t *testing.T) {
	if _, err := halley.New(halley.Config{AllowedOrigins: []string{"https://[bad"}}); err == nil {
		t.Fatal("a malformed origin pattern was accepted")
	}
}
