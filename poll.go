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
	// Presence asks for the channels' join and leave frames while the
	// request waits.
	Presence bool `json:"presence"`
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
			h.jsonError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "want application/json")
			return
		}
	}
	v := h.admit(w, r, http.MethodPost)
	if v == nil {
		return
	}
	parked := false // then the parked poll ends the visit and the stream
	defer func() {
		if !parked {
			v.done()
		}
	}()
	body, ok := h.readBody(w, r, h.cfg.MaxRequestBody)
	if !ok {
		return
	}
	req, err := decodePoll(body)
	if err != nil {
		h.jsonError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	cur, err := frame.ParseCursorMax(req.Cursor, MaxSubscriptions)
	if err != nil {
		h.jsonCursorError(w, err)
		return
	}
	ids := req.Channels
	if len(ids) > MaxSubscriptions {
		ids = ids[:MaxSubscriptions+1] // refused below
	}
	ids = appendCursorIDs(ids, cur)
	if code, reason, msg := checkChannels(ids); code != 0 {
		h.jsonError(w, code, reason, msg)
		return
	}
	if !v.join(w) {
		return
	}
	v.keep()
	// A poll that parks outlives its request: keep nothing of it (the
	// request's body still holds net/http's 4 KiB reader of the
	// connection).
	v.r = nil
	s := v.s

	st := h.newStream(s, &v.grant)
	st.presence, st.w.linger = req.Presence, true
	pp := h.parkable(r, &jsonPoll{v: v, st: st, expires: v.grant.Expires}, st.w, v.sig.gen)
	frames := st.subscribeAll(nil, ids, cur, req.Last)

	wait := h.PollTimeout()
	expires := !v.grant.Expires.IsZero()
	if expires {
		wait = min(wait, time.Until(v.grant.Expires))
	}
	var items []item
	items = st.pull(items, cometBatch)
	if frames = appendItems(frames, items); len(frames) == 0 && pp.park(w, wait) {
		parked = true
		return
	}
	defer pp.stay()
	defer st.close()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for len(frames) == 0 {
		select {
		case <-st.w.wake:
		case <-timer.C:
			if expires && !time.Now().Before(v.grant.Expires) {
				frames = append(frame.AppendClose(frames, "token_expired"), '\n')
			}
			writePollAnswer(w, s, st, frames)
			return
		case <-v.sig.released:
			writePollAnswer(w, s, st, nil)
			return
		case <-v.sig.kill:
			h.jsonError(w, http.StatusServiceUnavailable, "deactivated", "the request was ended by the server")
			return
		case <-r.Context().Done():
			return
		}
		items = st.pull(items[:0], cometBatch)
		frames = appendItems(frames, items)
	}
	writePollAnswer(w, s, st, frames)
}

// decodePoll decodes a poll's body: one JSON object, nothing after it.
func decodePoll(body []byte) (pollRequest, error) {
	var req pollRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, fmt.Errorf("bad JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return req, errors.New("bad JSON: data after the object")
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

// appendItems appends frames for items, each followed by LF. The frame
// of a message that no other connection reads (solo) is encoded here,
// not made on the message to share.
func appendItems(dst []byte, items []item) []byte {
	for _, it := range items {
		switch m := it.m; {
		case it.ctl != nil:
			dst = append(dst, it.ctl...)
		case m.solo && len(m.data) <= soloMax && m.frameLoaded() == nil:
			dst = frame.AppendMsgOf(dst, it.sub.fname, m.offset, m.data, m.json)
		default:
			dst = append(dst, it.frame()...)
		}
		dst = append(dst, '\n')
	}
	return dst
}

// writePollAnswer writes {"session","cursor","frames":[…]}, the frames
// given as LF-terminated lines.
func writePollAnswer(w http.ResponseWriter, s *Session, st *stream, lines []byte) {
	b := pollAnswer(s, st, lines)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	st.wrote(len(b))
	_, _ = w.Write(b)
}

// pollAnswer returns a poll's answer: {"session","cursor","frames":[…]},
// the frames given as LF-terminated lines.
func pollAnswer(s *Session, st *stream, lines []byte) []byte {
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
	return append(b, "]}\n"...)
}
