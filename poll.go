package halley

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"time"

	"github.com/halleyhq/halley/internal/wire/frame"
)

// pollRequest is the body of POST /poll.
type pollRequest struct {
	// Channels to read; those also in Cursor resume from there.
	Channels []string `json:"channels"`
	// Cursor is the text form of the client's positions, as the previous
	// answer gave it.
	Cursor string `json:"cursor"`
	// Last starts the channels without a position with their last n
	// messages.
	Last int `json:"last"`
}

// PollHandler returns the JSON long-poll transport of the Halley protocol
// (docs/protocol.md): POST a JSON object naming channels and a cursor;
// the answer comes when there is something to say, or empty at the poll
// timeout, and carries the cursor to send next time. Positions live in the
// cursor, so any node can answer any poll and a lost answer loses nothing:
// the client asks again with the same cursor.
func (h *Hub) PollHandler() http.Handler { return http.HandlerFunc(h.servePoll) }

func (h *Hub) servePoll(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
			jsonError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "want application/json")
			return
		}
	}
	sig, ok := h.gate(w, r, http.MethodPost)
	if !ok {
		return
	}
	req, err := decodePoll(w, r, h.cfg.MaxRequestBody)
	if err != nil {
		if _, tooBig := errors.AsType[*http.MaxBytesError](err); tooBig {
			jsonError(w, http.StatusRequestEntityTooLarge, "body_too_large", err.Error())
			return
		}
		jsonError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	cur, err := frame.ParseCursor(req.Cursor)
	if err != nil {
		jsonError(w, http.StatusBadRequest, "bad_cursor", err.Error())
		return
	}
	ids := req.Channels
	for id := range cur {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	if code, reason, msg := checkChannels(ids); code != 0 {
		jsonError(w, code, reason, msg)
		return
	}
	s, end, ok := h.openSession(w, r)
	if !ok {
		return
	}
	defer end()

	st := h.newSessionStream(s)
	defer st.close()
	frames := st.subscribeAll(nil, ids, cur, req.Last)

	timer := time.NewTimer(h.PollTimeout())
	defer timer.Stop()
	var items []item
	for {
		items = st.pull(items[:0], cometBatch)
		if frames = appendItems(frames, items); len(frames) > 0 {
			break
		}
		select {
		case <-st.w.wake:
		case <-timer.C:
			writePollAnswer(w, s, st, nil)
			return
		case <-sig.released:
			writePollAnswer(w, s, st, nil)
			return
		case <-sig.kill:
			jsonError(w, http.StatusServiceUnavailable, "deactivated", "the request was ended by the server")
			return
		case <-r.Context().Done():
			return
		}
	}
	writePollAnswer(w, s, st, frames)
}

func decodePoll(w http.ResponseWriter, r *http.Request, limit int64) (pollRequest, error) {
	var req pollRequest
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		return req, err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, fmt.Errorf("bad JSON: %w", err)
	}
	if req.Last < 0 {
		return req, errors.New("last must not be negative")
	}
	for _, id := range req.Channels {
		if id == "" {
			return req, errors.New("empty channel id")
		}
	}
	return req, nil
}

// appendItems appends frames for items, each followed by LF.
func appendItems(dst []byte, items []item) []byte {
	for _, it := range items {
		if it.ctl != nil {
			dst = append(dst, it.ctl...)
		} else {
			dst = append(dst, it.frame()...)
		}
		dst = append(dst, '\n')
	}
	return dst
}

// writePollAnswer writes {"session","cursor","frames":[…]}, the frames
// given as LF-terminated lines.
func writePollAnswer(w http.ResponseWriter, s *Session, st *stream, lines []byte) {
	b := make([]byte, 0, len(lines)+128)
	b = append(b, `{"session":`...)
	b = frame.AppendString(b, s.id)
	b = append(b, `,"cursor":`...)
	b = frame.AppendString(b, string(st.cursor(nil)))
	b = append(b, `,"frames":[`...)
	first := true
	for len(lines) > 0 {
		i := bytes.IndexByte(lines, '\n')
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, lines[:i]...)
		lines = lines[i+1:]
	}
	b = append(b, "]}\n"...)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b)
}
