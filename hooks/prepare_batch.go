package hooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/internal/wire/frame"
)

// PrepareBatch returns a PrepareBatch function, for a notifier over string
// keys and JSON notifications (halley.NotifierOptions.PrepareBatch), that
// asks url what each listener of a batch gets, in one request per batch.
// It POSTs the JSON object
//
//	{"notifier": notifier, "key": key, "data": <the notification>,
//	 "listeners": [{"session": id, "user": name}, …]}
//
// with one entry per listener, in the order of ids, where user is present
// only when the session has one. The backend answers:
//
//   - 200 with {"results": [...]}, one result per listener in the same
//     order: {"data": <JSON>} to send that to the listener, or null to
//     send it nothing (block);
//   - 204: nobody in the batch gets anything.
//
// Anything else (another status, a result that is neither null nor an
// object with "data", a wrong number of results), a network error or a
// timeout is an error: nobody in the batch gets the notification, and the
// hub logs it. A batch fails as a whole because a backend that answers
// one entry wrongly cannot be trusted with the others.
//
// The hub calls it once per batch of at most NotifierOptions.BatchSize
// listeners (halley.DefaultBatchSize by default), so a notification costs
// one request per batch rather than per listener.
func PrepareBatch(notifier, url string, opts Options) func(ctx context.Context, ids []halley.Identity, key string, n json.RawMessage) ([]halley.Prepared[json.RawMessage], error) {
	o := opts.withDefaults()
	return func(ctx context.Context, ids []halley.Identity, key string, n json.RawMessage) ([]halley.Prepared[json.RawMessage], error) {
		if len(ids) == 0 {
			return nil, nil
		}
		if len(n) == 0 {
			n = json.RawMessage("null")
		} else if !json.Valid(n) {
			return nil, fmt.Errorf("hooks: prepare batch %q: the notification is not JSON", notifier)
		}
		status, answer, err := o.post(ctx, url, appendBatchRequest(nil, notifier, key, n, ids))
		switch {
		case err != nil:
			return nil, fmt.Errorf("hooks: prepare batch %q: %w", notifier, err)
		case status == http.StatusNoContent:
			return make([]halley.Prepared[json.RawMessage], len(ids)), nil
		case status == http.StatusOK:
			out, err := parseBatchAnswer(answer, len(ids))
			if err != nil {
				return nil, fmt.Errorf("hooks: prepare batch %q: %w", notifier, err)
			}
			return out, nil
		default:
			return nil, fmt.Errorf("hooks: prepare batch %q: %s answered status %d", notifier, url, status)
		}
	}
}

// appendBatchRequest appends the body of a PrepareBatch request.
func appendBatchRequest(dst []byte, notifier, key string, n json.RawMessage, ids []halley.Identity) []byte {
	dst = append(dst, `{"notifier":`...)
	dst = frame.AppendString(dst, notifier)
	dst = append(dst, `,"key":`...)
	dst = frame.AppendString(dst, key)
	dst = append(dst, `,"data":`...)
	dst = append(dst, n...)
	dst = append(dst, `,"listeners":[`...)
	for i, id := range ids {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '{')
		sep := ""
		if id.Session != nil {
			dst = append(dst, `"session":`...)
			dst = frame.AppendString(dst, id.Session.ID())
			sep = ","
		}
		if id.User != "" {
			dst = append(dst, sep+`"user":`...)
			dst = frame.AppendString(dst, id.User)
		}
		dst = append(dst, '}')
	}
	return append(dst, "]}"...)
}

// parseBatchAnswer decodes the body of a 200 answer to a PrepareBatch
// request for want listeners.
func parseBatchAnswer(answer []byte, want int) ([]halley.Prepared[json.RawMessage], error) {
	var a struct {
		Results *[]json.RawMessage `json:"results"`
	}
	if err := json.Unmarshal(answer, &a); err != nil {
		return nil, fmt.Errorf("bad 200 answer: %w", err)
	}
	if a.Results == nil {
		return nil, errors.New(`200 answer without "results"`)
	}
	results := *a.Results
	if len(results) != want {
		return nil, fmt.Errorf("200 answer with %d results for %d listeners", len(results), want)
	}
	out := make([]halley.Prepared[json.RawMessage], len(results))
	for i, r := range results {
		if bytes.Equal(r, []byte("null")) {
			continue // blocked
		}
		var e struct {
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(r, &e); err != nil {
			return nil, fmt.Errorf("result %d is neither null nor an object: %s", i, r)
		}
		if e.Data == nil {
			return nil, fmt.Errorf(`result %d without "data"`, i)
		}
		out[i] = halley.Prepared[json.RawMessage]{Value: e.Data, Send: true}
	}
	return out, nil
}
