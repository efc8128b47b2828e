package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strconv"
	"time"
)

// readBody reads the whole body, at most a.maxBody bytes, within
// a.bodyTimeout. On failure it has answered the request and returns false.
func (a *api) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	return a.readBodyMax(w, r, a.maxBody)
}

// readBodyMax is readBody with a limit of its own.
func (a *api) readBodyMax(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, bool) {
	// Writers that cannot take a deadline (a ResponseRecorder) read
	// without; a body the lean loop holds whole needs none.
	var rc *http.ResponseController
	if lw := leanOf(w); lw == nil || !lw.bodyBuffered() {
		rc = http.NewResponseController(w)
		_ = rc.SetReadDeadline(time.Now().Add(a.bodyTimeout))
	}
	body, err := readAll(r.Body, r.ContentLength, limit)
	if err == nil && rc != nil {
		// The deadline is on the connection, so it is lifted once the
		// body is read, not to cut what the handler does next (net/http
		// lifts it too when an HTTP/1 body hits EOF; this does not rely
		// on it). After a failure it stays: the server then reads what
		// is left of the body before closing the connection, and must
		// not wait for a trickle to finish.
		_ = rc.SetReadDeadline(time.Time{})
	}
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			writeError(w, http.StatusRequestEntityTooLarge, "body_too_large",
				"the request body is over "+strconv.FormatInt(limit, 10)+" bytes")
			return nil, false
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			// The connection cannot be read any more: close it after
			// the answer.
			w.Header().Set("Connection", "close")
			writeError(w, http.StatusRequestTimeout, "body_timeout",
				"the request body did not arrive within "+a.bodyTimeout.String())
			return nil, false
		}
		writeError(w, http.StatusBadRequest, "bad_request", "cannot read the request body")
		return nil, false
	}
	return body, true
}

// readAll reads body to its end, at most limit bytes, and fails with an
// *http.MaxBytesError past them, as a body read through
// http.MaxBytesReader does. size is the length the request declares (-1:
// unknown): a body of that length within the limit and up to
// maxPrealloc is read into one buffer of its size (one byte more, to see
// the end), not into the doubling buffers of io.ReadAll. A larger one
// grows as it arrives, so that a declared length alone takes no memory.
func readAll(body io.Reader, size, limit int64) ([]byte, error) {
	n := int64(512)
	if size >= 0 && size <= limit {
		n = min(size+1, maxPrealloc)
	}
	buf := make([]byte, 0, n)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		// Never more than one byte past the limit: enough to know.
		room := buf[len(buf):cap(buf)]
		if left := limit - int64(len(buf)); left < int64(len(room)) {
			room = room[:left+1]
		}
		k, err := body.Read(room)
		buf = buf[:len(buf)+k]
		if int64(len(buf)) > limit {
			return nil, &http.MaxBytesError{Limit: limit}
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// maxPrealloc bounds the buffer readAll allocates for a body before it
// arrives.
const maxPrealloc = 64 << 10

// decodeJSON reads a JSON object body into v, which must be a pointer to
// a struct. An empty body decodes as {} whatever its media type; any
// other body must be application/json and hold exactly one object with
// known fields. On failure it has answered the request and returns false.
func (a *api) decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	return a.decodeJSONMax(w, r, v, a.maxBody)
}

// decodeJSONMax is decodeJSON with a body limit of its own.
func (a *api) decodeJSONMax(w http.ResponseWriter, r *http.Request, v any, limit int64) bool {
	body, ok := a.readBodyMax(w, r, limit)
	if !ok {
		return false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return true
	}
	return decodeBody(w, r, body, v)
}

// decodeBody decodes a body already read, which is not empty, like
// decodeJSON.
func decodeBody(w http.ResponseWriter, r *http.Request, body []byte, v any) bool {
	if !isJSON(r) {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type",
			"the body must be JSON with Content-Type: application/json")
		return false
	}
	if err := unmarshalStrict(body, v); err != nil {
		writeError(w, http.StatusBadRequest, "bad_json", err.Error())
		return false
	}
	return true
}

// unmarshalStrict decodes one JSON object, refusing unknown fields and
// trailing data.
func unmarshalStrict(body []byte, v any) error {
	if b := bytes.TrimSpace(body); len(b) == 0 || b[0] != '{' {
		return errors.New("the body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("bad JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("bad JSON: data after the object")
	}
	return nil
}

// fieldValue returns the first value of the header field key, written in
// its canonical form, as net/http keys a request's fields: Header.Get
// would canonicalize key again on every call, which shows on the
// publish path.
func fieldValue(h http.Header, key string) string {
	if vs := h[key]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// isJSON reports whether the request's Content-Type is application/json
// (or application/x-ndjson, lines of JSON).
func isJSON(r *http.Request) bool {
	ct := fieldValue(r.Header, "Content-Type")
	switch ct {
	case "application/json", "application/x-ndjson":
		return true // the usual spellings, without parsing
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || mt == "application/x-ndjson")
}
