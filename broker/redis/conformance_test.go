package redis_test

import (
	"testing"

	"github.com/halleyhq/halley/broker"
	"github.com/halleyhq/halley/broker/brokertest"
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
