package halley

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// hubServer returns a hub and a server of one of its transports, both
// stopped at the end of the test.
func hubServer(t *testing.T, cfg Config, handler func(*Hub) http.Handler) (*Hub, *httptest.Server) {
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(handler(h))
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
	return h, srv
}
