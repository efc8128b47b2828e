package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
)

// publishRequest is the body of POST /api/publish.
type publishRequest struct {
	Channel string          `json:"channel"`
	Data    json.RawMessage `json:"data"`
}

// publishResponse is the answer of POST /api/publish.
type publishResponse struct {
	Offset    uint64 `json:"offset"`
	Delivered int    `json:"delivered"`
}

// publishLimit bounds the body of a publication: Options.MaxBody, or more
// when the hub takes larger messages, so that a message over the hub's
// Config.MaxMessageSize is answered message_too_large (with the limit),
// not body_too_large, even once written as a JSON string (twice its size
// leaves room for escapes and base64).
func (a *api) publishLimit() int64 {
	return max(a.maxBody, 2*int64(a.hub.MaxMessageSize())+4096)
}

func (a *api) publish(w http.ResponseWriter, r *http.Request) {
	var req publishRequest
	if !a.decodeJSONMax(w, r, &req, a.publishLimit()) {
		return
	}
	if req.Channel == "" {
		writeError(w, http.StatusBadRequest, "bad_request", `"channel" is required`)
		return
	}
	if req.Data == nil {
		writeError(w, http.StatusBadRequest, "bad_request", `"data" is required`)
		return
	}
	data, err := payload(req.Data)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_json", err.Error())
		return
	}
	c, ok := a.hub.Channel(req.Channel)
	if !ok {
		writeError(w, http.StatusNotFound, "unknown_channel", "no live channel has the id "+req.Channel)
		return
	}
	out, err := c.Write(r.Context(), data)
	if err != nil {
		a.writeHubError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, publishResponse{Offset: out.Offset, Delivered: out.Delivered})
}

// payload returns the bytes a message carries: a JSON string's contents,
// or any other JSON value's compact text, so that clients can publish
// plain text and JSON documents alike.
func payload(raw json.RawMessage) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return []byte(s), nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
