package client_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/client"
	"github.com/halleyhq/halley/httpapi"
)

func ExampleClient() {
	// A hub served as cmd/halley serves it.
	hub, _ := halley.New(halley.Config{Logger: discard})
	defer hub.Shutdown(context.Background())
	mux := http.NewServeMux()
	mux.Handle("/api/", httpapi.New(hub, httpapi.Options{Logger: discard}))
	mux.Handle("/", hub.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	api := &client.API{URL: srv.URL, HTTPClient: srv.Client()}
	_, _ = api.CreateChannel(ctx, "news", "", 0)
	_, _, _ = api.Publish(ctx, "news", []byte("hello"))
	_, _, _ = api.Publish(ctx, "news", []byte(`{"title": "world"}`))

	c := client.New(srv.URL, client.Options{Transport: client.Poll, Logger: discard})
	c.Subscribe("news", client.From{Last: 10})
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	for n := 0; n < 2; {
		ev := <-c.Events()
		if ev.Type == client.EventMsg {
			fmt.Printf("%s %d %s\n", ev.Channel, ev.Offset, ev.Data)
			n++
		}
	}
	cancel()
	fmt.Println(<-done, c.Positions()["news"].Offset)
	// Output:
	// news 1 hello
	// news 2 {"title":"world"}
	// <nil> 2
}
