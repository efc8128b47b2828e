package client_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/client"
	"github.com/halleyhq/halley/httpapi"
)

func TestAPI(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()

	id, err := e.api.CreateChannel(ctx, "news", "broadcast", 10)
	if err != nil || id != "news" {
		t.Fatalf("CreateChannel = %q, %v; want news", id, err)
	}
	fresh, err := e.api.CreateChannel(ctx, "", "", 0)
	if err != nil || len(fresh) != 22 {
		t.Errorf("CreateChannel without a name = %q, %v; want a 22-character id", fresh, err)
	}

	for i, tc := range []struct{ in, stored string }{
		{"hello world", "hello world"},
		{`{"score": 3}`, `{"score":3}`},
		{"not {json", "not {json"},
		{"[1, 2]", "[1,2]"},
	} {
		off, delivered, err := e.api.Publish(ctx, "news", []byte(tc.in))
		if err != nil || off != uint64(i+1) || delivered != 0 {
			t.Errorf("Publish(%q) = %d, %d, %v; want %d, 0, nil", tc.in, off, delivered, err, i+1)
		}
	}
	ch, _ := e.hub.Channel("news")
	msgs, err := ch.Read(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range msgs {
		got = append(got, string(m.Data))
	}
	want := []string{"hello world", `{"score":3}`, "not {json", "[1,2]"}
	if len(got) != len(want) {
		t.Fatalf("stored %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("message %d stored as %q, want %q", i+1, got[i], want[i])
		}
	}

	expectAPIError(t, "create a taken name", func() error {
		_, err := e.api.CreateChannel(ctx, "news", "", 0)
		return err
	}, http.StatusConflict, "name_taken")
	expectAPIError(t, "publish to a missing channel", func() error {
		_, _, err := e.api.Publish(ctx, "missing", []byte("x"))
		return err
	}, http.StatusNotFound, "unknown_channel")
	expectAPIError(t, "create a lazy channel", func() error {
		_, err := e.api.CreateChannel(ctx, "", "lazy", 0)
		return err
	}, http.StatusBadRequest, "invalid_options")

	if err := e.api.DeleteChannel(ctx, "news"); err != nil {
		t.Errorf("DeleteChannel: %v", err)
	}
	expectAPIError(t, "delete it again", func() error { return e.api.DeleteChannel(ctx, "news") }, http.StatusNotFound, "unknown_channel")
}

func TestAPI_Key(t *testing.T) {
	hub, err := halley.New(halley.Config{Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(httpapi.New(hub, httpapi.Options{APIKey: "s3cret", Logger: discard}))
	t.Cleanup(func() {
		ts.Close()
		_ = hub.Shutdown(t.Context())
	})
	api := &client.API{URL: ts.URL + "/", HTTPClient: ts.Client()}
	expectAPIError(t, "no key", func() error {
		_, err := api.CreateChannel(t.Context(), "news", "", 0)
		return err
	}, http.StatusUnauthorized, "unauthorized")
	api.Key = "s3cret"
	if _, err := api.CreateChannel(t.Context(), "news", "", 0); err != nil {
		t.Errorf("with the key: %v", err)
	}
}

func expectAPIError(t *testing.T, what string, f func() error, status int, reason string) {
	t.Helper()
	err := f()
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status != status || ae.Reason != reason {
		t.Errorf("%s: %v, want an APIError %d %s", what, err, status, reason)
		return
	}
	if ae.Message == "" {
		t.Errorf("%s: no message in %v", what, ae)
	}
}

func TestAPI_PublishBatch(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	for _, name := range []string{"a", "b"} {
		if _, err := e.api.CreateChannel(ctx, name, "", 0); err != nil {
			t.Fatal(err)
		}
	}
	out, err := e.api.PublishBatch(ctx, []client.Publication{
		{Channel: "a", Data: []byte("text, not {json")},
		{Channel: "nope", Data: []byte("1")},
		{Channel: "b", Data: []byte(`{"n": 1}`)},
		{Channel: "a", Data: []byte(`"quoted"`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 4 || out[0].Offset != 1 || out[0].Err != nil || out[2].Offset != 1 || out[3].Offset != 2 {
		t.Fatalf("PublishBatch = %+v, want offsets 1, -, 1, 2", out)
	}
	var ae *client.APIError
	if !errors.As(out[1].Err, &ae) || ae.Reason != "unknown_channel" || ae.Status != http.StatusNotFound {
		t.Errorf("result 1: %v, want an unknown_channel APIError with status 404", out[1].Err)
	}
	a, _ := e.hub.Channel("a")
	msgs, err := a.Read(ctx, 0, 0)
	if err != nil || len(msgs) != 2 || string(msgs[0].Data) != "text, not {json" || string(msgs[1].Data) != "quoted" {
		t.Errorf("channel a: %v, %v; want the text, then the string's contents", msgs, err)
	}

	expectAPIError(t, "an empty batch", func() error {
		_, err := e.api.PublishBatch(ctx, nil)
		return err
	}, http.StatusBadRequest, "bad_request")
}
