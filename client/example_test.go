package client_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/client"
	"github.com/halleyhq/halley/httpapi"
)

// discard drops the logs of the examples' hubs and clients.
var discard = slog.New(slog.DiscardHandler)

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

func ExampleClient_Write() {
	hub, _ := halley.New(halley.Config{Logger: discard})
	defer hub.Shutdown(context.Background())
	// A bus whose filter sees who writes.
	_, _ = hub.NewBus(context.Background(), halley.BusOptions{
		Name: "chat",
		Filter: func(_ context.Context, w halley.Writer, data []byte) ([]byte, error) {
			if w.Session == nil {
				return nil, halley.Reject("clients only")
			}
			return data, nil
		},
	})
	srv := httptest.NewServer(hub.Handler())
	defer srv.Close()

	c := client.New(srv.URL, client.Options{Logger: discard})
	off, err := c.Write(context.Background(), "chat", []byte(`{"text":"hi"}`))
	fmt.Println(off, err)
	_, err = c.Write(context.Background(), "nope", []byte("hi"))
	var re *client.RefusedError
	if errors.As(err, &re) {
		fmt.Println(re.Reason)
	}
	// Output:
	// 1 <nil>
	// unknown_channel
}

func ExampleClient_Listen() {
	hub, _ := halley.New(halley.Config{Logger: discard})
	defer hub.Shutdown(context.Background())
	docs, _ := halley.NewSimpleNotifier[string, string](hub, "docs")
	srv := httptest.NewServer(hub.Handler())
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := client.New(srv.URL, client.Options{Transport: client.SSE, Logger: discard})
	if err := c.Listen(ctx, "docs", "42"); err != nil {
		fmt.Println(err)
		return
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	_, _ = docs.Notify(ctx, "42", "edited", halley.NotFor{})
	for ev := range c.Events() {
		if ev.Type == client.EventNotify {
			fmt.Printf("%s %s %s\n", ev.Notifier, ev.Key, ev.Data)
			break
		}
	}
	cancel()
	fmt.Println(<-done)
	// Output:
	// docs 42 "edited"
	// <nil>
}
