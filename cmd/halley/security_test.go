package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/halleyhq/halley/auth/jwt"
)

const testHMAC = "a secret of at least thirty-two bytes, for tests"

func TestServe_RefusesBadSecuritySettings(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--api-key", " key-with-spaces"}, "api key"},
		{[]string{"--token-hmac-secret", "short"}, "at least 32 bytes"},
		{[]string{"--allowed-origins", "*"}, "every web page"},
		{[]string{"--trusted-proxies", "10.0.0.0/8,nonsense"}, "neither an address nor a CIDR"},
		{[]string{"--max-conns-per-ip", "0"}, "max conns per ip"},
		{[]string{"--max-sessions", "0"}, "max sessions"},
		{[]string{"--body-timeout", "0s"}, "body timeout"},
	} {
		var stderr bytes.Buffer
		code := run(context.Background(), append([]string{"serve", "--addr", "127.0.0.1:0"}, tc.args...), io.Discard, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, code, stderr.String(), tc.want)
		}
	}
}

func TestServe_TokensAndPublicDeclarations(t *testing.T) {
	file := filepath.Join(t.TempDir(), "halley.json")
	writeFile(t, file, `{"demo": false,
		"channels": [{"name": "news", "public": true}, {"name": "alerts"}],
		"allowed_origins": ["https://app.example.com"]}`)
	t.Setenv("HALLEY_TOKEN_HMAC_SECRET", testHMAC)
	s := startRun(t, "--addr", "127.0.0.1:0", "--config", file)
	s.log.wait(t, 0, "client tokens required")

	get := func(path string, hd http.Header) (int, string) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.url+path, nil)
		for k, v := range hd {
			req.Header[k] = v
		}
		res, err := s.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		// A stream: its first events say what the subscription got.
		b := make([]byte, 4096)
		n, _ := io.ReadAtLeast(res.Body, b, 1)
		for res.StatusCode == 200 && !bytes.Contains(b[:n], []byte(`"channel"`)) && n < len(b) {
			m, err := res.Body.Read(b[n:])
			if err != nil {
				break
			}
			n += m
		}
		return res.StatusCode, string(b[:n])
	}
	// Anonymous: the public channel only.
	if code, body := get("/sse?channel=news", nil); code != 200 || !strings.Contains(body, `"type":"subscribed"`) {
		t.Fatalf("anonymous, public channel: %d %s", code, body)
	}
	if code, body := get("/sse?channel=alerts", nil); code != 200 || !strings.Contains(body, `"reason":"forbidden"`) {
		t.Fatalf("anonymous, other channel: %d %s", code, body)
	}
	tok, err := jwt.Mint([]byte(testHMAC), jwt.MintOptions{Subject: "alice", Channels: []string{"alerts"}, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if code, body := get("/sse?channel=alerts&token="+tok, nil); code != 200 || !strings.Contains(body, `"type":"subscribed"`) {
		t.Fatalf("with a token: %d %s", code, body)
	}
	if code, body := get("/sse?channel=alerts", http.Header{"Authorization": {"Bearer nonsense"}}); code != 401 || !strings.Contains(body, "invalid_token") {
		t.Fatalf("a bad token: %d %s", code, body)
	}
	// The allowed origin from the config file; another is refused.
	if code, _ := get("/sse?channel=news", http.Header{"Origin": {"https://app.example.com"}}); code != 200 {
		t.Fatalf("allowed origin: %d", code)
	}
	if code, _ := get("/sse?channel=news", http.Header{"Origin": {"https://evil.example"}}); code != 403 {
		t.Fatalf("foreign origin: %d", code)
	}
}

func TestParseConfig_Security(t *testing.T) {
	cfg, err := parseConfig(strings.NewReader(`{"allowed_origins": "https://a.example, https://b.example",
		"trusted_proxies": ["10.0.0.1", "192.168.0.0/16"], "max_conns_per_ip": 10, "session_rate": 2.5,
		"ring_bytes": 1048576, "body_timeout": "3s", "token_leeway": "5s"}`), defaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	sc := cfg.securityConfig
	if strings.Join(sc.AllowedOrigins, " ") != "https://a.example https://b.example" || len(sc.TrustedProxies) != 2 ||
		sc.MaxConnsPerIP != 10 || sc.SessionRate != 2.5 || sc.RingBytes != 1<<20 ||
		time.Duration(sc.BodyTimeout) != 3*time.Second || time.Duration(sc.TokenLeeway) != 5*time.Second {
		t.Fatalf("security settings from the file: %+v", sc)
	}
	if p, err := sc.prefixes(); err != nil || p[0].String() != "10.0.0.1/32" || p[1].String() != "192.168.0.0/16" {
		t.Fatalf("trusted proxies %v, %v", p, err)
	}
	if _, err := parseConfig(strings.NewReader(`{"notifiers": [{"name": "docs", "prepare_batch": true}]}`), defaultConfig()); err == nil ||
		!strings.Contains(err.Error(), "prepare_batch needs a prepare_url") {
		t.Fatalf("prepare_batch without a URL: %v", err)
	}
}

func TestServe_UnservedAnsweredWithoutWaitingForTheBody(t *testing.T) {
	s := startRun(t, "--addr", "127.0.0.1:0", "--demo=false")
	for _, head := range []string{"POST /healthz", "POST /nowhere", "POST /api/channels", "POST /poll", "POST /comet"} {
		conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "%s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nContent-Length: 60000\r\n\r\n{", head)
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode < 400 || !resp.Close {
			t.Fatalf("%s with a body that never comes: %v %v, want an error at once, closing", head, resp, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		if _, err := br.ReadByte(); err != io.EOF {
			t.Fatalf("%s: after the answer, %v; want the server to close the connection", head, err)
		}
		conn.Close()
	}
}
