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
