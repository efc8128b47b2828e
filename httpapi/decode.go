package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
)

// readBody reads the whole body, at most a.maxBody bytes. On failure it
// has answered the request and returns false.
func (a *api) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.maxBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			writeError(w, http.StatusRequestEntityTooLarge, "body_too_large",
				"the request body is over "+strconv.FormatInt(a.maxBody, 10)+" bytes")
			return nil, false
		}
		writeError(w, http.StatusBadRequest, "bad_request", "cannot read the request body")
		return nil, false
	}
	return body, true
}

// decodeJSON reads a JSON object body into v, which must be a pointer to
// a struct. An empty body decodes as {} whatever its media type; any
// other body must be application/json and hold exactly one object with
// known fields. On failure it has answered the request and returns false.
func (a *api) decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	body, ok := a.readBody(w, r)
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

// isJSON reports whether the request's Content-Type is application/json.
func isJSON(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}
