package halley

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestTokenOf(t *testing.T) {
	for _, tc := range []struct {
		auth, query, want string
		bad               bool
	}{
		{"", "", "", false},
		{"Bearer abc", "", "abc", false},
		{"bearer  abc ", "", "abc", false},
		{"Basic dXNlcg==", "token=q", "q", false}, // a proxy's, not ours
		{"Bearer h", "token=q", "h", false},
		{"", "token=" + strings.Repeat("x", MaxTokenLen+1), "", true},
	} {
		r := &http.Request{Header: http.Header{}, URL: &url.URL{RawQuery: tc.query}}
		if tc.auth != "" {
			r.Header.Set("Authorization", tc.auth)
		}
		got, err := tokenOf(r)
		if got != tc.want || (err != nil) != tc.bad {
			t.Errorf("Authorization %q, query %q: %q, %v; want %q (error %v)", tc.auth, tc.query, got, err, tc.want, tc.bad)
		}
	}
}

func FuzzTokenOf(f *testing.F) {
	f.Add("Bearer abc", "token=x")
	f.Add("bearer", "token=%zz")
	f.Add("Bearer "+strings.Repeat("a", 9000), "")
	f.Fuzz(func(t *testing.T, auth, query string) {
		r := &http.Request{Header: http.Header{"Authorization": {auth}}, URL: &url.URL{RawQuery: query}}
		tok, err := tokenOf(r)
		if err != nil {
			if tok != "" {
				t.Fatalf("a refused token %q", tok)
			}
			return
		}
		if len(tok) > MaxTokenLen {
			t.Fatalf("a token of %d bytes accepted", len(tok))
		}
		if tok != "" && !strings.Contains(auth, tok) && !strings.Contains(r.URL.Query().Get(TokenParam), tok) {
			t.Fatalf("token %q is in neither the header %q nor the query %q", tok, auth, query)
		}
	})
}
