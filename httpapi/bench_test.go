package httpapi_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/client"
	"github.com/halleyhq/halley/httpapi"
)

// BenchmarkPublishHTTP measures one POST /api/publish over a kept-alive
// loopback connection, client and server in this process: time and
// allocations per publish (both sides'), to a channel nobody reads,
// served by net/http and by the API's lean loop (Options.TakeOver).
func BenchmarkPublishHTTP(b *testing.B) {
	b.Run("net-http", func(b *testing.B) { benchmarkPublishHTTP(b, false) })
	b.Run("takeover", func(b *testing.B) { benchmarkPublishHTTP(b, true) })
}

func benchmarkPublishHTTP(b *testing.B, takeOver bool) {
	e := newEnv(b, halley.Config{}, httpapi.Options{TakeOver: takeOver})
	if _, err := e.hub.NewChannel(context.Background(), halley.ChannelOptions{Name: "news"}); err != nil {
		b.Fatal(err)
	}
	body := []byte(`{"channel":"news","data":{"tick":12345,"text":"hello, world"}}`)
	url := e.srv.URL + "/api/publish"
	client := e.srv.Client()
	b.ReportAllocs()
	for b.Loop() {
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			b.Fatalf("status %d", res.StatusCode)
		}
	}
}

// BenchmarkPublishStream measures one line of a publish stream (POST
// /api/publish/stream), sent and its answer read before the next, over
// loopback, client (the Go client's PublishStream) and server in this
// process, to a channel nobody reads: served by net/http and taken from
// it (Options.TakeOver).
func BenchmarkPublishStream(b *testing.B) {
	b.Run("net-http", func(b *testing.B) { benchmarkPublishStream(b, false) })
	b.Run("takeover", func(b *testing.B) { benchmarkPublishStream(b, true) })
}

func benchmarkPublishStream(b *testing.B, takeOver bool) {
	e := newEnv(b, halley.Config{}, httpapi.Options{TakeOver: takeOver})
	ctx := context.Background()
	if _, err := e.hub.NewChannel(ctx, halley.ChannelOptions{Name: "news"}); err != nil {
		b.Fatal(err)
	}
	s, err := (&client.API{URL: e.srv.URL}).OpenPublishStream(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	data := []byte(`{"tick":12345,"text":"hello, world"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.Publish("news", data); err != nil {
			b.Fatal(err)
		}
	}
}
