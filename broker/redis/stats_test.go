package redis_test

import (
	"context"
	"testing"

	"github.com/halleyhq/halley/broker"
	"github.com/halleyhq/halley/internal/redistest"
)

func TestBroker_OpCounts(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	b, _ := startBroker(t, options(t, srv))
	subscribe(t, b, "news")
	publish(t, b, "news", "one")
	publish(t, b, "news", "two")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := b.Publish(ctx, "news", []byte("three"), broker.PublishOptions{}); err == nil {
		t.Fatal("publish under a cancelled context: no error")
	}
	got := map[string]broker.OpCount{}
	for _, c := range b.OpCounts() {
		got[c.Op] = c
	}
	if c := got["publish"]; c.Calls != 3 || c.Errors != 1 {
		t.Errorf("publish counts %+v, want 3 calls, 1 error", c)
	}
	if c := got["subscribe"]; c.Calls != 1 || c.Errors != 0 {
		t.Errorf("subscribe counts %+v, want 1 call", c)
	}
	if c := got["remove"]; c.Calls != 0 {
		t.Errorf("remove counts %+v, want none", c)
	}
}
