package main

import (
	"net/http"
	"strings"
	"testing"
)

// The dashboard loads without the key, with or without the demo; its
// data does not.
func TestServe_AdminPage(t *testing.T) {
	for _, demo := range []string{"--demo=true", "--demo=false"} {
		t.Run(demo, func(t *testing.T) {
			s := startRun(t, "--addr", "127.0.0.1:0", "--api-key", "k3y", demo)
			line, _ := s.log.wait(t, 0, "halley: admin dashboard at ")
			if want := "halley: admin dashboard at " + s.url + "/admin"; line != want {
				t.Errorf("log line %q, want %q", line, want)
			}
			res := s.do(http.MethodGet, "/admin", "", "")
			if res.status != http.StatusOK || !strings.HasPrefix(res.header.Get("Content-Type"), "text/html") {
				t.Fatalf("GET /admin = %d %q, want 200 text/html", res.status, res.header.Get("Content-Type"))
			}
			for _, want := range []string{"<title>Halley admin</title>", `src="/admin/app.js"`, `id="plot-conns"`, `id="channels"`} {
				if !strings.Contains(res.body, want) {
					t.Errorf("the page lacks %q", want)
				}
			}
			if csp := res.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
				t.Errorf("policy %q: want scripts of this origin only, no framing", csp)
			}
			js := s.do(http.MethodGet, "/admin/app.js", "", "")
			if js.status != http.StatusOK || !strings.HasPrefix(js.header.Get("Content-Type"), "text/javascript") || !strings.Contains(js.body, "/stats?detail=1") {
				t.Errorf("GET /admin/app.js = %d %q, want the dashboard's script", js.status, js.header.Get("Content-Type"))
			}
			if res := s.do(http.MethodGet, "/api/stats?detail=1", "", ""); res.status != http.StatusUnauthorized {
				t.Errorf("GET /api/stats?detail=1 without the key = %d, want 401", res.status)
			}
			s.key = "k3y"
			if res := s.do(http.MethodGet, "/api/channels", "", ""); res.status != http.StatusOK || !strings.HasPrefix(res.body, `{"channels":[`) {
				t.Errorf("GET /api/channels with the key = %d %s", res.status, res.body)
			}
			if res := s.do(http.MethodPost, "/admin", "", ""); res.status != http.StatusMethodNotAllowed {
				t.Errorf("POST /admin = %d, want 405", res.status)
			}
		})
	}
}
