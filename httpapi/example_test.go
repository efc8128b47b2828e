package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/httpapi"
)

// Example mounts the JSON API next to the hub's client transport, then
// creates a channel and publishes on it as a backend would.
func Example() {
	hub, err := halley.New(halley.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer hub.Shutdown(context.Background())

	mux := http.NewServeMux()
	mux.Handle("/", hub.Handler())                                           // clients: /comet, /ws, /sse, /poll…
	mux.Handle("/api/", httpapi.New(hub, httpapi.Options{APIKey: "s3cret"})) // backends
	srv := httptest.NewServer(mux)
	defer srv.Close()

	post := func(path, body string) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer s3cret")
		res, err := srv.Client().Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		fmt.Print(res.StatusCode, " ", string(b))
	}
	post("/api/channels", `{"name":"news"}`)
	post("/api/publish", `{"channel":"news","data":{"title":"Halley is back"}}`)
	// Output:
	// 201 {"id":"news","kind":"broadcast","size":1000}
	// 200 {"offset":1,"delivered":0}
}

// ExampleOptions_takeOver serves a backend's run of publishes on one
// kept-alive connection with the API's lean loop: the server also serves
// the hub's returned connections, through which the connection goes back
// to net/http at the first other request (here GET /api/channels/news).
func ExampleOptions_takeOver() {
	hub, err := halley.New(halley.Config{})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/", httpapi.New(hub, httpapi.Options{TakeOver: true}))
	srv := httptest.NewServer(mux)
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		_ = srv.Config.Serve(hub.ReturnedConns())
	}()
	defer func() {
		// The hub first: it hands taken-over connections back.
		_ = hub.Shutdown(context.Background())
		_ = hub.ReturnedConns().Close()
		<-returned
		srv.Close()
	}()
	if _, err := hub.NewChannel(context.Background(), halley.ChannelOptions{Name: "news"}); err != nil {
		log.Fatal(err)
	}

	do := func(method, path, body string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		res, err := srv.Client().Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		fmt.Print(res.StatusCode, " ", string(b))
	}
	for i := range 3 {
		do(http.MethodPost, "/api/publish", fmt.Sprintf(`{"channel":"news","data":%d}`, i))
	}
	do(http.MethodGet, "/api/channels/news", "")
	// Output:
	// 200 {"offset":1,"delivered":0}
	// 200 {"offset":2,"delivered":0}
	// 200 {"offset":3,"delivered":0}
	// 200 {"id":"news","kind":"broadcast","listeners":0,"node_listeners":0,"offset":3,"size":1000,"public":false,"presence":false}
}
