package halley_test

import (
	"net/http/httptest"
	"testing"

	"github.com/halleyhq/halley"
)

// TestSessionFor_QueryBeforeCookie checks that a session named by the
// request (the session query parameter, which EventSource and browser
// WebSockets use) wins over the cookie that every tab of a browser shares,
// so that each tab can keep a session of its own.
func TestSessionFor_QueryBeforeCookie(t *testing.T) {
	h := newHub(t, halley.Config{})
	first := func() (*halley.Session, string) {
		rec := httptest.NewRecorder()
		s, err := h.SessionFor(rec, httptest.NewRequest("GET", "/", nil))
		if err != nil {
			t.Fatal(err)
		}
		return s, rec.Result().Cookies()[0].String()
	}
	a, cookieA := first()
	b, _ := first()

	req := httptest.NewRequest("GET", "/sse?session="+b.ID(), nil)
	req.Header.Set("Cookie", cookieA)
	if got, _ := h.SessionFor(httptest.NewRecorder(), req); got != b {
		t.Fatalf("with tab A's cookie and session=B: got %v, want B", got.ID())
	}
	req = httptest.NewRequest("GET", "/sse?session=new", nil)
	req.Header.Set("Cookie", cookieA)
	got, err := h.SessionFor(httptest.NewRecorder(), req)
	if err != nil {
		t.Fatal(err)
	}
	if got == a || got == b || got.ID() == "new" {
		t.Fatalf("session=new with a cookie: got %q, want a new session", got.ID())
	}
	// Without a parameter, the cookie still finds its session.
	req = httptest.NewRequest("GET", "/sse", nil)
	req.Header.Set("Cookie", cookieA)
	if got, _ := h.SessionFor(httptest.NewRecorder(), req); got != a {
		t.Fatal("the cookie did not find its session")
	}
}
