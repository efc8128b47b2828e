package redis_test

import (
	"context"
	"log"
	"net/http"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/broker/redis"
)

// Every node of a Halley cluster runs the same code against one Redis; a
// client may then connect to any node and resume from its position there.
func Example() {
	ctx := context.Background()
	b, err := redis.New(ctx, redis.Options{
		URL:    "redis://:secret@10.0.0.5:6379/0",
		Prefix: "myapp",
	})
	if err != nil {
		log.Fatal(err) // wraps broker.ErrUnavailable when Redis cannot be reached
	}
	hub, err := halley.New(halley.Config{Broker: b}) // the hub starts and closes it
	if err != nil {
		log.Fatal(err)
	}
	defer hub.Shutdown(ctx)
	log.Fatal(http.ListenAndServe(":8080", hub.Handler()))
}

// With Redis Sentinel the broker asks the Sentinels for the primary and
// follows its failovers.
func ExampleOptions_sentinel() {
	b, err := redis.New(context.Background(), redis.Options{
		Sentinel:   []string{"10.0.0.1:26379", "10.0.0.2:26379", "10.0.0.3:26379"},
		MasterName: "halley",
		URL:        "redis://:primary-password@/0", // the primary's password and database
	})
	if err != nil {
		log.Fatal(err)
	}
	_ = b
}
