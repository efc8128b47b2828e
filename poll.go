package halley

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
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
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		jsonError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use POST")
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		jsonError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "want application/json")
		return
	}
	kill, released := h.control.signals()
	if h.refuse(w) {
		return
	}
	req, err := decodePoll(w, r, h.cfg.MaxRequestBody)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
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
		if !containsString(ids, id) {
			ids = append(ids, id)
		}
	}
	switch {
	case len(ids) == 0:
		jsonError(w, http.StatusBadRequest, "bad_request", "no channels")
		return
	case len(ids) > MaxSubscriptions:
		jsonError(w, http.StatusBadRequest, "too_many_subscriptions", fmt.Sprintf("at most %d channels", MaxSubscriptions))
		return
	}
	s, end, err := h.transportSession(w, r)
	if err != nil {
		jsonError(w, http.StatusServiceUnavailable, Reason(err), err.Error())
		return
	}
	defer end()

	st := h.newSessionStream(s)
	defer st.close()
	var frames []byte
	for _, id := range ids {
		from := start{last: req.Last}
		p, resumed := cur[id]
		if resumed {
			from = start{after: &p.Offset, epoch: p.Epoch}
		}
		frames = st.subscribe(frames, id, from, resumed)
	}

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
		case <-released:
			writePollAnswer(w, s, st, nil)
			return
		case <-kill:
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

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
