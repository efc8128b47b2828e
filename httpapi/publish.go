package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/broker"
	"github.com/halleyhq/halley/internal/jsonmark"
	"github.com/halleyhq/halley/internal/wire/frame"
)

// MaxBatch is the most messages one batch publish (POST /api/publish with
// a JSON array) may carry; more is answered 400 bad_request.
const MaxBatch = 1000

// publishRequest is the body of POST /api/publish, and each item of a
// batch.
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
	body, ok := a.readBodyMax(w, r, a.publishLimit())
	if !ok {
		return
	}
	b := bytes.TrimSpace(body)
	if len(b) > 0 && !isJSON(r) {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type",
			"the body must be JSON with Content-Type: application/json")
		return
	}
	if len(b) > 0 && b[0] == '[' {
		a.publishBatch(w, r, b)
		return
	}
	p, bad := decodePublication(b)
	if bad != nil {
		writeError(w, http.StatusBadRequest, bad.reason, bad.message)
		return
	}
	if p.aliased && cap(body)-len(p.data) > aliasSlack {
		// The hub keeps the message: not with a body much larger.
		p.data = bytes.Clone(p.data)
	}
	c, ok := a.hub.Channel(p.channel)
	if !ok {
		writeError(w, http.StatusNotFound, "unknown_channel", "no live channel has the id "+p.channel)
		return
	}
	ctx := r.Context()
	if p.json {
		jsonmark.Mark(ctx, p.data)
	}
	out, err := c.Write(ctx, p.data)
	if err != nil {
		a.writeHubError(w, r, err)
		return
	}
	writePublished(w, out)
}

// refusal is a request's fault: a reason of the API and its message.
type refusal struct{ reason, message string }

// aliasSlack is how many bytes beside its message a publication's body
// may have for the hub to keep the message as a part of the body.
const aliasSlack = 1024

// publication is one publication's channel and message. aliased tells
// that data is a part of the body (its capacity cut at its end); json,
// that data is one compact JSON value (not a JSON string's contents),
// which the hub then need not check again (package jsonmark).
type publication struct {
	channel string
	data    []byte
	aliased bool
	json    bool
}

// decodePublication returns the channel and message of one publication
// object (an empty b counts as {}), or why it is refused.
func decodePublication(b []byte) (publication, *refusal) {
	var raw []byte
	var channel string
	if len(b) > 0 {
		sc, end, ok := scanPublish(b)
		if ok && skipSpace(b, end) == len(b) {
			if p, ok := checkPublication(sc); ok {
				return p, nil
			}
		}
		// Not the simple shape, or a fault: the strict decoder decides,
		// and words the answer.
		var req publishRequest
		if err := unmarshalStrict(b, &req); err != nil {
			return publication{}, &refusal{"bad_json", err.Error()}
		}
		channel, raw = req.Channel, req.Data
	}
	if channel == "" {
		return publication{}, &refusal{"bad_request", `"channel" is required`}
	}
	if raw == nil {
		return publication{}, &refusal{"bad_request", `"data" is required`}
	}
	// raw is the decoder's copy: data may be a part of it, not of b.
	data, _, isJSON, err := payload(raw, false)
	if err != nil {
		return publication{}, &refusal{"bad_json", err.Error()}
	}
	return publication{channel: channel, data: data, json: isJSON}, nil
}

// checkPublication returns the publication scanPublish read, and false
// when it has a fault.
func checkPublication(sc scanned) (publication, bool) {
	if sc.channel == "" || sc.data == nil {
		return publication{}, false
	}
	data, aliased, isJSON, err := payload(sc.data, sc.compact)
	return publication{channel: sc.channel, data: data, aliased: aliased, json: isJSON}, err == nil
}

// writePublished answers 200 with a write's outcome, without the
// reflection of encoding/json: this is the API's busiest answer.
func writePublished(w http.ResponseWriter, out halley.Outcome) {
	b := appendOutcome(scratchOf(w), out)
	b = append(b, '\n')
	writeRaw(w, http.StatusOK, b)
}

// appendOutcome appends {"offset":…,"delivered":…}.
func appendOutcome(b []byte, out halley.Outcome) []byte {
	b = append(b, `{"offset":`...)
	b = strconv.AppendUint(b, out.Offset, 10)
	b = append(b, `,"delivered":`...)
	b = strconv.AppendInt(b, int64(out.Delivered), 10)
	return append(b, '}')
}

// writeRaw answers code with b, a JSON text, and the API's headers.
func writeRaw(w http.ResponseWriter, code int, b []byte) {
	if lw := leanOf(w); lw != nil {
		// The lean loop writes these headers as one constant.
		lw.apiHeaders()
		w.WriteHeader(code)
		_, _ = w.Write(b)
		return
	}
	h := w.Header()
	// Canonical keys set directly, the values shared (net/http only
	// reads them): no allocation. net/http adds the Content-Length of a
	// small answer itself.
	h["Content-Type"] = jsonType
	h["X-Content-Type-Options"] = nosniff
	h["Cache-Control"] = noStore
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

var (
	jsonType = []string{"application/json"}
	nosniff  = []string{"nosniff"}
	noStore  = []string{"no-store"}
)

// publishBatch publishes the messages of a JSON array of publications,
// in order. The array is checked whole first: a bad item refuses the
// request and nothing is published. Then each message is written; one
// that is refused (an unknown channel, a bus filter…) gets its error in
// the answer's results, and the others are still published.
func (a *api) publishBatch(w http.ResponseWriter, r *http.Request, b []byte) {
	var pubs []publication
	i := skipSpace(b, 1)
	if i < len(b) && b[i] == ']' {
		i++
	} else {
		for {
			if len(pubs) == MaxBatch {
				writeError(w, http.StatusBadRequest, "bad_request",
					"a batch carries at most "+strconv.Itoa(MaxBatch)+" messages")
				return
			}
			start := skipSpace(b, i)
			var p publication
			sc, end, ok := scanPublish(b[start:])
			if ok {
				end += start
				if p, ok = checkPublication(sc); p.aliased {
					p.data = bytes.Clone(p.data) // not the whole batch's body
				}
			}
			if !ok {
				// The strict decoder reads the item, to word the fault.
				item, n, err := nextItem(b[start:])
				if err != nil {
					writeError(w, http.StatusBadRequest, "bad_json", "item "+strconv.Itoa(len(pubs))+": "+err.Error())
					return
				}
				var bad *refusal
				if p, bad = decodePublication(item); bad != nil {
					writeError(w, http.StatusBadRequest, bad.reason, "item "+strconv.Itoa(len(pubs))+": "+bad.message)
					return
				}
				end = start + n
			}
			pubs = append(pubs, p)
			i = skipSpace(b, end)
			if i < len(b) && b[i] == ',' {
				i++
				continue
			}
			if i < len(b) && b[i] == ']' {
				i++
				break
			}
			writeError(w, http.StatusBadRequest, "bad_json", "bad JSON: want , or ] after item "+strconv.Itoa(len(pubs)-1))
			return
		}
	}
	if skipSpace(b, i) != len(b) {
		writeError(w, http.StatusBadRequest, "bad_json", "bad JSON: data after the array")
		return
	}
	if len(pubs) == 0 {
		writeError(w, http.StatusBadRequest, "bad_request", "the batch has no message")
		return
	}

	out := make([]byte, 0, 64+40*len(pubs))
	out = append(out, `{"results":[`...)
	published := 0
	for k, p := range pubs {
		if k > 0 {
			out = append(out, ',')
		}
		c, ok := a.hub.Channel(p.channel)
		if !ok {
			out = appendFault(out, "unknown_channel", "no live channel has the id "+p.channel, http.StatusNotFound)
			continue
		}
		ctx := r.Context()
		if p.json {
			jsonmark.Mark(ctx, p.data)
		}
		res, err := c.Write(ctx, p.data)
		if err != nil {
			out = a.appendItemError(out, r, err)
			continue
		}
		published++
		out = appendOutcome(out, res)
	}
	out = append(out, `],"published":`...)
	out = strconv.AppendInt(out, int64(published), 10)
	out = append(out, `,"failed":`...)
	out = strconv.AppendInt(out, int64(len(pubs)-published), 10)
	out = append(out, "}\n"...)
	writeRaw(w, http.StatusOK, out)
}

// nextItem returns the JSON value at the start of b (after white space)
// and the index after it.
func nextItem(b []byte) ([]byte, int, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return nil, 0, fmt.Errorf("bad JSON: %w", err)
	}
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
		return nil, 0, errors.New("an item must be a JSON object")
	}
	return raw, int(dec.InputOffset()), nil
}

// appendItemError appends a batch item's error, as writeHubError would
// answer it alone: {"error":reason,"message":…,"status":code}.
func (a *api) appendItemError(out []byte, r *http.Request, err error) []byte {
	reason := halley.Reason(err)
	if reason == "internal" && errors.Is(err, broker.ErrClosed) {
		reason = "shutdown"
	}
	code, ok := statusOf[reason]
	msg := err.Error()
	switch {
	case !ok:
		a.log.Error("halley: api: internal error", "method", r.Method, "path", r.URL.Path, "err", err)
		reason, code, msg = "internal", http.StatusInternalServerError, "internal error"
	case reason == "rejected":
		msg = rejectMessage(msg)
	}
	return appendFault(out, reason, msg, code)
}

// appendFault appends {"error":reason,"message":msg,"status":code}.
func appendFault(out []byte, reason, msg string, code int) []byte {
	e, _ := json.Marshal(struct {
		Error   string `json:"error"`
		Message string `json:"message"`
		Status  int    `json:"status"`
	}{reason, msg, code})
	return append(out, e...)
}

// payload returns the bytes a message carries: a JSON string's contents,
// or any other JSON value's compact text, so that clients can publish
// plain text and JSON documents alike. raw is a valid JSON value, as
// scanPublish or encoding/json's decoder found it. When those bytes are
// in raw as they are (a string without escapes, a value already
// compact), data is that part of raw, its capacity cut at its end, and
// aliased is true. compact tells that raw is known to be compact
// (scanPublish found so); isJSON, that data is a JSON value's text.
func payload(raw json.RawMessage, compact bool) (data []byte, aliased, isJSON bool, err error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		if in, ok := plainString(raw); ok {
			return in, true, false, nil
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, false, false, err
		}
		return []byte(s), false, false, nil
	}
	if compact || frame.Compacted(raw) {
		return raw[:len(raw):len(raw)], true, true, nil
	}
	var buf bytes.Buffer
	buf.Grow(len(raw))
	if err := json.Compact(&buf, raw); err != nil {
		return nil, false, false, err
	}
	return buf.Bytes(), false, true, nil
}

// plainString returns the contents of a JSON string without escapes or
// control characters, in valid UTF-8, which are its bytes as they are
// (a part of raw, its capacity cut at its end); false for any other
// string, which json.Unmarshal decodes.
func plainString(raw []byte) ([]byte, bool) {
	if len(raw) < 2 || raw[len(raw)-1] != '"' {
		return nil, false
	}
	in := raw[1 : len(raw)-1 : len(raw)-1]
	for _, c := range in {
		if c == '"' || c == '\\' || c < 0x20 {
			return nil, false
		}
	}
	if !utf8.Valid(in) {
		return nil, false
	}
	return in, true
}
