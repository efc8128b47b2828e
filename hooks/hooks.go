package hooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/internal/wire/frame"
)

// DefaultTimeout bounds a hook request when Options.Client is nil.
const DefaultTimeout = 5 * time.Second

// MaxAnswer bounds the body of a backend's answer, in bytes; a longer one
// counts as a failure of the backend.
const MaxAnswer = 16 << 20

// ReasonUnavailable is the reason of a write a filter rejected because its
// backend failed (fail closed).
const ReasonUnavailable = "filter_unavailable"

// defaultClient is shared by hooks without a client of their own, so that
// they share connections.
var defaultClient = &http.Client{Timeout: DefaultTimeout}

// Options configure a hook. The zero value works.
type Options struct {
	// Client sends the requests. Its Timeout bounds each call; the
	// caller's context may end it sooner. Default: a client with a
	// DefaultTimeout (5 s) timeout over http.DefaultTransport.
	Client *http.Client
	// Header is added to every request, for example a shared secret
	// ("Authorization: Bearer …") that the backend checks. Default: none.
	Header http.Header
	// Logger receives the failures of filters' backends. Default:
	// slog.Default().
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Client == nil {
		o.Client = defaultClient
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// post sends body to url and returns the answer's status and body.
func (o Options) post(ctx context.Context, url string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	for k, vs := range o.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	res, err := o.Client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(res.Body, MaxAnswer+1))
	if err != nil {
		return res.StatusCode, nil, fmt.Errorf("read the answer: %w", err)
	}
	if len(answer) > MaxAnswer {
		return res.StatusCode, nil, fmt.Errorf("answer over %d bytes", MaxAnswer)
	}
	return res.StatusCode, answer, nil
}

// Filter returns a bus filter that asks url about every write to the bus
// busID. It POSTs the JSON object
//
//	{"bus": busID, "server": bool, "session": id, "user": name,
//	 "remote_addr": addr, <payload as "json", "data" or "data64">}
//
// where session, user and remote_addr are present only when known (a
// server write has none). The backend answers:
//
//   - 204: accept the write unchanged;
//   - 200 with a JSON object holding "json", "data" or "data64": accept
//     that payload instead (enrichment);
//   - 403 or 422 with {"reason": "..."}: reject the write; the error wraps
//     halley.ErrRejected with the reason, which the writer is told.
//
// Anything else, a network error or a timeout rejects the write with the
// reason ReasonUnavailable (fail closed), and logs the cause.
func Filter(busID, url string, opts Options) halley.Filter {
	o := opts.withDefaults()
	return func(ctx context.Context, w halley.Writer, data []byte) ([]byte, error) {
		status, answer, err := o.post(ctx, url, appendFilterRequest(nil, busID, w, data))
		switch {
		case err != nil:
			return nil, o.unavailable(ctx, busID, url, err)
		case status == http.StatusNoContent:
			return data, nil
		case status == http.StatusOK:
			var f frame.Frame
			if err := json.Unmarshal(answer, &f); err != nil {
				return nil, o.unavailable(ctx, busID, url, fmt.Errorf("bad 200 answer: %w", err))
			}
			if !f.HasData() {
				return nil, o.unavailable(ctx, busID, url, errors.New(`200 answer without "json", "data" or "data64"`))
			}
			return f.Data(), nil
		case status == http.StatusForbidden || status == http.StatusUnprocessableEntity:
			var a struct {
				Reason string `json:"reason"`
			}
			_ = json.Unmarshal(answer, &a) // a missing reason is no reason
			if a.Reason == "" {
				return nil, fmt.Errorf("bus filter: %w", halley.ErrRejected)
			}
			return nil, fmt.Errorf("%w: %s", halley.ErrRejected, a.Reason)
		default:
			return nil, o.unavailable(ctx, busID, url, errors.New("status "+strconv.Itoa(status)))
		}
	}
}

// unavailable logs why a filter's backend failed and returns the error
// that rejects the write. The cause stays in the log: writers are told
// only the reason.
func (o Options) unavailable(ctx context.Context, busID, url string, cause error) error {
	if ctx.Err() == nil { // otherwise the writer went away: nothing is wrong
		o.Logger.Warn("halley: bus filter unavailable", "bus", busID, "url", url, "err", cause)
	}
	return fmt.Errorf("%w: %s", halley.ErrRejected, ReasonUnavailable)
}

func appendFilterRequest(dst []byte, busID string, w halley.Writer, data []byte) []byte {
	dst = append(dst, `{"bus":`...)
	dst = frame.AppendString(dst, busID)
	dst = append(dst, `,"server":`...)
	dst = strconv.AppendBool(dst, w.Server())
	if w.Session != nil {
		dst = append(dst, `,"session":`...)
		dst = frame.AppendString(dst, w.Session.ID())
	}
	if w.User != "" {
		dst = append(dst, `,"user":`...)
		dst = frame.AppendString(dst, w.User)
	}
	if w.RemoteAddr != "" {
		dst = append(dst, `,"remote_addr":`...)
		dst = frame.AppendString(dst, w.RemoteAddr)
	}
	dst = append(dst, ',')
	dst = frame.AppendData(dst, data)
	return append(dst, '}')
}

// Concurrency is how many requests a notifier with a Prepare or
// PrepareBatch hook makes to the backend at once
// (halley.NotifierOptions.Concurrency): with Prepare each listener is one
// request, with PrepareBatch each batch of listeners.
const Concurrency = 16

// Prepare returns a Prepare function, for a notifier over string keys and
// JSON notifications, that asks url what each listener gets. It POSTs the
// JSON object
//
//	{"notifier": notifier, "key": key, "session": id, "user": name,
//	 "data": <the notification>}
//
// where user is present only when the session has one. The backend
// answers 200 with {"data": <JSON>} to send that to this listener, or 204
// to send nothing to it (block). Anything else, a network error or a
// timeout is an error: the hub logs it and skips that listener.
//
// The hub calls Prepare once per listener, so a notification costs one
// request per listener on this node; PrepareBatch costs one per batch.
func Prepare(notifier, url string, opts Options) func(ctx context.Context, id halley.Identity, key string, n json.RawMessage) (json.RawMessage, bool, error) {
	o := opts.withDefaults()
	return func(ctx context.Context, id halley.Identity, key string, n json.RawMessage) (json.RawMessage, bool, error) {
		if len(n) == 0 {
			n = json.RawMessage("null")
		} else if !json.Valid(n) {
			return nil, false, fmt.Errorf("hooks: prepare %q: the notification is not JSON", notifier)
		}
		body := append([]byte(`{"notifier":`), frame.AppendString(nil, notifier)...)
		body = append(body, `,"key":`...)
		body = frame.AppendString(body, key)
		if id.Session != nil {
			body = append(body, `,"session":`...)
			body = frame.AppendString(body, id.Session.ID())
		}
		if id.User != "" {
			body = append(body, `,"user":`...)
			body = frame.AppendString(body, id.User)
		}
		body = append(body, `,"data":`...)
		body = append(append(body, n...), '}')

		status, answer, err := o.post(ctx, url, body)
		switch {
		case err != nil:
			return nil, false, fmt.Errorf("hooks: prepare %q: %w", notifier, err)
		case status == http.StatusNoContent:
			return nil, false, nil
		case status == http.StatusOK:
			var a struct {
				Data json.RawMessage `json:"data"`
			}
			if err := json.Unmarshal(answer, &a); err != nil {
				return nil, false, fmt.Errorf("hooks: prepare %q: bad 200 answer: %w", notifier, err)
			}
			if a.Data == nil {
				return nil, false, fmt.Errorf(`hooks: prepare %q: 200 answer without "data"`, notifier)
			}
			return a.Data, true, nil
		default:
			return nil, false, fmt.Errorf("hooks: prepare %q: %s answered status %d", notifier, url, status)
		}
	}
}

// CheckURL reports whether raw can be a hook's URL: an absolute http or
// https URL with a host.
func CheckURL(raw string) error {
	p, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("bad hook URL: %w", err)
	}
	if p.Scheme != "http" && p.Scheme != "https" || p.Host == "" {
		return fmt.Errorf("bad hook URL %q: want an absolute http or https URL", raw)
	}
	return nil
}
