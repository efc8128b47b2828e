package redis_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/halleyhq/halley/broker"
	"github.com/halleyhq/halley/broker/brokertest"
	"github.com/halleyhq/halley/broker/redis"
	"github.com/halleyhq/halley/internal/redistest"
)

// TestBroker runs the conformance suite, every subtest on a fresh broker
// over one test Redis.
func TestBroker(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	brokertest.Run(t, func(t testing.TB) broker.Broker {
		return newBroker(t, options(t, srv))
	})
}

// TestBroker_Nodes runs the two-node cases: two brokers, each with its own
// connections, on one test Redis.
func TestBroker_Nodes(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	brokertest.RunNodes(t, func(t testing.TB) broker.Broker {
		return newBroker(t, options(t, srv))
	})
}

func TestNew(t *testing.T) {
	t.Run("PrefixWithBrace", func(t *testing.T) {
		if b, err := redis.New(t.Context(), redis.Options{Prefix: "a{b"}); err == nil {
			b.Close(t.Context())
			t.Fatal("New accepted a prefix with a brace")
		}
	})
	t.Run("Unreachable", func(t *testing.T) {
		srv := redistest.Start(t, redistest.Options{})
		srv.Stop()
		b, err := redis.New(t.Context(), options(t, srv))
		if !errors.Is(err, broker.ErrUnavailable) {
			if b != nil {
				b.Close(t.Context())
			}
			t.Fatalf("New on a stopped server: %v; want an error wrapping broker.ErrUnavailable", err)
		}
	})
	t.Run("Prefix", func(t *testing.T) {
		// Two prefixes on one Redis are two separate clusters.
		srv := redistest.Start(t, redistest.Options{})
		oa, ob := options(t, srv), options(t, srv)
		oa.Prefix, ob.Prefix = "one", "two"
		a, _ := startBroker(t, oa)
		b, rec := startBroker(t, ob)
		subscribe(t, b, "s")
		if res := publish(t, a, "s", "x"); res.Position.Offset != 1 {
			t.Fatalf("first Publish with prefix one: offset %d", res.Position.Offset)
		}
		if res := publish(t, b, "s", "y"); res.Position.Offset != 1 {
			t.Fatalf("first Publish with prefix two: offset %d; want 1, another stream", res.Position.Offset)
		}
		if msgs := rec.WaitMessages(t, "s", 1); string(msgs[0].Data) != "y" {
			t.Fatalf("prefix two delivered %q; want only its own y", msgs[0].Data)
		}
		if got := srv.MustDo("EXISTS", "{one:s}:meta", "{two:s}:meta"); got != "2" {
			t.Errorf("EXISTS of both prefixes' keys: %s; want 2", got)
		}
	})
}

// TestBroker_OneSubscription: a node holds one pub/sub connection and one
// subscription per stream, however often it subscribes.
func TestBroker_OneSubscription(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	b, _ := startBroker(t, options(t, srv))
	for range 3 {
		subscribe(t, b, "s")
	}
	subscribe(t, b, "t")
	if got := srv.MustDo("PUBSUB", "NUMSUB", "{halley:s}:msg", "{halley:t}:msg"); got != "{halley:s}:msg\n1\n{halley:t}:msg\n1" {
		t.Errorf("PUBSUB NUMSUB: %q; want one subscription each", got)
	}
	if conns := strings.Count(srv.MustDo("CLIENT", "LIST", "TYPE", "pubsub"), "flags=P"); conns != 1 {
		t.Errorf("%d pub/sub connections; want 1", conns)
	}
	if err := b.Unsubscribe(t.Context(), "s"); err != nil {
		t.Fatal(err)
	}
	if got := srv.MustDo("PUBSUB", "NUMSUB", "{halley:s}:msg"); got != "{halley:s}:msg\n0" {
		t.Errorf("PUBSUB NUMSUB after Unsubscribe: %q; want none", got)
	}
}

// TestBroker_Registry runs the registry cases on two brokers over one test
// Redis.
func TestBroker_Registry(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	a, _ := startBroker(t, options(t, srv))
	b, _ := startBroker(t, options(t, srv))
	brokertest.RunRegistry(t, a, b)
}
