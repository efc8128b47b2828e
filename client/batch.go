package client

import (
	"context"
	"fmt"
	"net/http"
)

// Publication is one message of a batch: data for channel, sent as
// Publish sends it (JSON as JSON, anything else as a JSON string).
type Publication struct {
	Channel string
	Data    []byte
}

// Published is the outcome of one message of a batch.
type Published struct {
	Offset    uint64
	Delivered int
	// Err, when the server refused this message (the others of the
	// batch are published all the same), is an *APIError with the
	// reason, message and status a single Publish of it would have got.
	Err error
}

// PublishBatch publishes pubs in one request (POST /api/publish with a
// JSON array; a server takes at most 1000) and returns one outcome per
// publication, in order. The server publishes them in their order. An
// error refuses the whole batch: nothing was published.
func (a *API) PublishBatch(ctx context.Context, pubs []Publication) ([]Published, error) {
	body := make([]byte, 0, 64*len(pubs))
	body = append(body, '[')
	for i, p := range pubs {
		if i > 0 {
			body = append(body, ',')
		}
		var err error
		if body, err = appendPublication(body, p.Channel, p.Data); err != nil {
			return nil, fmt.Errorf("client: publish batch: %w", err)
		}
	}
	body = append(body, ']')
	var out struct {
		Results []struct {
			Offset    uint64 `json:"offset"`
			Delivered int    `json:"delivered"`
			Error     string `json:"error"`
			Message   string `json:"message"`
			Status    int    `json:"status"`
		} `json:"results"`
	}
	if err := a.send(ctx, http.MethodPost, "/api/publish", body, &out); err != nil {
		return nil, fmt.Errorf("client: publish batch: %w", err)
	}
	if len(out.Results) != len(pubs) {
		return nil, fmt.Errorf("client: publish batch: %d results for %d publications", len(out.Results), len(pubs))
	}
	done := make([]Published, len(pubs))
	for i, r := range out.Results {
		done[i] = Published{Offset: r.Offset, Delivered: r.Delivered}
		if r.Error != "" {
			done[i].Err = &APIError{Status: r.Status, Reason: r.Error, Message: r.Message}
		}
	}
	return done, nil
}
