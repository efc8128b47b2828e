package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"

	"github.com/halleyhq/halley/internal/wire/frame"
)

// pollAnswer is the answer of POST /poll. Its frames are decoded one by
// one, msg frames without reflection.
type pollAnswer struct {
	Session string            `json:"session"`
	Cursor  string            `json:"cursor"`
	Frames  []json.RawMessage `json:"frames"`
}

// runPoll long-polls until a failure or a change of the client. Each poll
// carries the client's positions, so an answer lost or cut short (by a
// change, or by the application not taking events) is simply asked again.
func (c *Client) runPoll(ctx context.Context) (progress bool, err error) {
	for {
		// The events of a lost session first: the next answer may be
		// long in coming.
		if err := c.flushLost(ctx); err != nil {
			return progress, err
		}
		if err := c.relistenHTTP(ctx); err != nil {
			return progress, err
		}
		p := c.plan()
		if p.empty() {
			return progress, errRestart
		}
		wctx, stop := watch(ctx, p.changed)
		ok, err := c.pollOnce(wctx, &p)
		stop()
		progress = progress || ok
		if err != nil {
			return progress, restartOr(wctx, err)
		}
	}
}

// pollOnce sends one poll and delivers its frames. It reports whether the
// server answered.
func (c *Client) pollOnce(ctx context.Context, p *plan) (bool, error) {
	tok, err := c.bearer(ctx)
	if err != nil {
		return false, err
	}
	body, err := json.Marshal(struct {
		Channels []string `json:"channels"`
		Cursor   string   `json:"cursor"`
		Last     int      `json:"last"`
		Presence bool     `json:"presence,omitempty"`
	}{p.fresh, p.cursor.String(), p.last, c.presence})
	if err != nil {
		return false, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base.JoinPath("poll").String(), bytes.NewReader(body))
	if err != nil {
		return false, &protocolError{msg: err.Error(), permanent: true}
	}
	c.request(req, p.session, tok)
	req.Header.Set("Content-Type", "application/json")
	res, err := c.hc.Do(req)
	if err != nil {
		return false, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return false, c.connectRefusal(res, tok)
	}
	if mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type")); mt != "application/json" {
		return false, &protocolError{msg: fmt.Sprintf("poll: answer of type %q, want application/json", mt), permanent: true}
	}
	c.setSession(res.Header.Get(sessionHeader))
	var ans pollAnswer
	if err := json.NewDecoder(res.Body).Decode(&ans); err != nil {
		return false, fmt.Errorf("client: poll: bad answer: %w", err)
	}
	c.setSession(ans.Session)
	// Every frame is decoded before any is delivered: a bad answer
	// delivers nothing.
	type polled struct {
		m frame.Msg
		f *frame.Frame // nil for a msg frame in m
	}
	frames := make([]polled, len(ans.Frames))
	for i, raw := range ans.Frames {
		if m, ok := frame.ParseMsg(raw); ok {
			frames[i].m = m
			continue
		}
		f := new(frame.Frame)
		if err := json.Unmarshal(raw, f); err != nil {
			return false, fmt.Errorf("client: poll: bad answer: %w", err)
		}
		frames[i].f = f
	}
	for _, pf := range frames {
		var err error
		if pf.f == nil {
			// Each raw frame is a slice of its own: a payload that is a
			// part of it need not be copied.
			_, err = c.deliverMsg(ctx, pf.m.Channel, pf.m.Offset, "", pf.m.Payload, true)
		} else {
			_, err = c.deliver(ctx, pf.f)
		}
		if err != nil {
			return true, err
		}
	}
	if c.epochless.Load() {
		if cur, err := frame.ParseCursor(ans.Cursor); err == nil {
			c.adoptEpochs(cur)
		}
	}
	return true, nil
}
