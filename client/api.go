package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// APIError is a refusal by the server: an HTTP status with the reason and
// message of its JSON error body ({"error": reason, "message": …}). Use
// errors.As to get it; switch on Reason, which is stable, never on Message.
type APIError struct {
	Status  int
	Reason  string // empty when the body was not a JSON error
	Message string
	// RetryAfter is the wait the answer's Retry-After header asks for
	// (429 rate_limited), at most an hour; 0 when it has none.
	RetryAfter time.Duration
}

// maxRetryAfter bounds the wait a Retry-After header can impose.
const maxRetryAfter = time.Hour

func (e *APIError) Error() string {
	s := fmt.Sprintf("client: %d %s", e.Status, http.StatusText(e.Status))
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// readAPIError makes the APIError of a failed answer, reading at most 4 KiB
// of its body.
func readAPIError(res *http.Response) *APIError {
	e := &APIError{Status: res.StatusCode, RetryAfter: parseRetryAfter(res.Header.Get("Retry-After"))}
	b, _ := io.ReadAll(io.LimitReader(res.Body, 4<<10))
	var body struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	if json.Unmarshal(b, &body) == nil && body.Error != "" {
		e.Reason, e.Message = body.Error, body.Message
	} else {
		e.Message = strings.TrimSpace(string(b))
		if len(e.Message) > 200 {
			e.Message = e.Message[:200] + "…"
		}
	}
	return e
}

// parseRetryAfter returns the wait of a Retry-After value, in seconds or
// an HTTP date (RFC 9110, 10.2.3), bounded by maxRetryAfter; 0 when v is
// empty or bad.
func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseUint(v, 10, 64); err == nil {
		d = time.Duration(min(n, uint64(maxRetryAfter/time.Second))) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = time.Until(t)
	}
	return min(max(d, 0), maxRetryAfter)
}

// API calls the HTTP API of a Halley server (docs/server.md), for
// backends and tools. Its methods are safe for concurrent use.
type API struct {
	// URL is the server's base URL, such as "http://127.0.0.1:8080"; the
	// API lives under URL/api/.
	URL string
	// Key, when set, is sent as "Authorization: Bearer <Key>".
	Key string
	// HTTPClient makes the requests. Default: http.DefaultClient.
	HTTPClient *http.Client
}

// Publish writes data to channel and returns its offset and the number of
// connections it was handed to (-1 when the broker delivers
// asynchronously). data is sent as its JSON text when it is valid JSON,
// which the server stores compacted, else as a JSON string, which the
// server stores as is: JSON payloads reach readers as JSON, text as text.
// So text that happens to be a JSON string, such as `"hi"`, arrives
// unquoted (hi), and invalid UTF-8 becomes U+FFFD.
func (a *API) Publish(ctx context.Context, channel string, data []byte) (offset uint64, delivered int, err error) {
	var raw json.RawMessage
	if json.Valid(data) {
		raw = data
	} else {
		if raw, err = json.Marshal(string(data)); err != nil {
			return 0, 0, fmt.Errorf("client: publish: %w", err)
		}
	}
	var out struct {
		Offset    uint64 `json:"offset"`
		Delivered int    `json:"delivered"`
	}
	in := struct {
		Channel string          `json:"channel"`
		Data    json.RawMessage `json:"data"`
	}{channel, raw}
	if err := a.do(ctx, http.MethodPost, "/api/publish", in, &out); err != nil {
		return 0, 0, fmt.Errorf("client: publish: %w", err)
	}
	return out.Offset, out.Delivered, nil
}

// CreateChannel creates a channel and returns its id. An empty name asks
// for a fresh id, an empty kind for "broadcast", a zero size for the
// server's default.
func (a *API) CreateChannel(ctx context.Context, name, kind string, size int) (id string, err error) {
	in := struct {
		Name string `json:"name,omitempty"`
		Kind string `json:"kind,omitempty"`
		Size int    `json:"size,omitempty"`
	}{name, kind, size}
	var out struct {
		ID string `json:"id"`
	}
	if err := a.do(ctx, http.MethodPost, "/api/channels", in, &out); err != nil {
		return "", fmt.Errorf("client: create channel: %w", err)
	}
	return out.ID, nil
}

// DeleteChannel closes channel id: its readers get an "ended" event.
func (a *API) DeleteChannel(ctx context.Context, id string) error {
	if err := a.do(ctx, http.MethodDelete, "/api/channels/"+url.PathEscape(id), nil, nil); err != nil {
		return fmt.Errorf("client: delete channel: %w", err)
	}
	return nil
}

// do sends in as JSON (none when nil) and decodes the answer into out
// (ignored when nil). A status other than 2xx is an *APIError.
func (a *API) do(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = b
	}
	return a.send(ctx, method, path, body, out)
}

// send is do with the JSON body already made (nil: none).
func (a *API) send(ctx context.Context, method, path string, body []byte, out any) error {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	contentType := ""
	if body != nil {
		contentType = "application/json"
	}
	res, err := a.roundTrip(ctx, method, path, r, contentType)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return readAPIError(res)
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, res.Body)
		return nil
	}
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		return fmt.Errorf("bad answer: %w", err)
	}
	return nil
}

// roundTrip sends a request of the API with body (nil: none) of
// contentType ("": none) and the key, and returns the answer.
func (a *API) roundTrip(ctx context.Context, method, path string, body io.Reader, contentType string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(a.URL, "/")+path, body)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if a.Key != "" {
		req.Header.Set("Authorization", "Bearer "+a.Key)
	}
	hc := a.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	return hc.Do(req)
}
