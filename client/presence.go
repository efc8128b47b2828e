package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// Member is one member of a channel with presence: a session, its user and
// its connections to the channel.
type Member struct {
	Session     string `json:"session,omitempty"`
	User        string `json:"user,omitempty"`
	Connections int    `json:"connections"`
}

// Presence is who reads a channel now, as GET /api/channels/{id}/presence
// answers it (docs/server.md).
type Presence struct {
	Channel string `json:"channel"`
	// Connections, Sessions and Users count the client connections
	// reading the channel and the distinct sessions and users among
	// them.
	Connections int `json:"connections"`
	Sessions    int `json:"sessions"`
	Users       int `json:"users"`
	// Enabled reports whether the channel has presence; only then are
	// Members given, at most 10 000 (Truncated past that).
	Enabled   bool     `json:"presence"`
	Members   []Member `json:"members,omitempty"`
	Truncated bool     `json:"truncated,omitempty"`
}

// Presence returns who reads channel now: counts for any channel, and the
// members (with their session ids) of a channel made with presence. Join
// and leave events come to a Client made with Options.Presence.
func (a *API) Presence(ctx context.Context, channel string) (Presence, error) {
	var p Presence
	if err := a.do(ctx, http.MethodGet, "/api/channels/"+url.PathEscape(channel)+"/presence", nil, &p); err != nil {
		return Presence{}, fmt.Errorf("client: presence: %w", err)
	}
	return p, nil
}

// UserPresence is one user among the members of a channel with presence,
// as clients see it: no session ids.
type UserPresence struct {
	User        string `json:"user,omitempty"`
	Sessions    int    `json:"sessions"`
	Connections int    `json:"connections"`
}

// ChannelPresence is who reads a channel, as GET /presence answers a
// client (docs/protocol.md): counts, and the users of a channel with
// presence.
type ChannelPresence struct {
	Channel     string         `json:"channel"`
	Connections int            `json:"connections"`
	Sessions    int            `json:"sessions"`
	Users       int            `json:"users"`
	Enabled     bool           `json:"presence"`
	Members     []UserPresence `json:"members,omitempty"`
	Truncated   bool           `json:"truncated,omitempty"`
}

// Presence asks the server who reads channel now, as this client (its
// session and token): it may ask for the channels it may read. A refusal
// (unknown_channel, forbidden…) is a *RefusedError.
func (c *Client) Presence(ctx context.Context, channel string) (ChannelPresence, error) {
	var p ChannelPresence
	if c.baseErr != nil {
		return p, c.baseErr
	}
	c.mu.Lock()
	session, running := c.session, c.running
	c.mu.Unlock()
	if c.ownHC && !running {
		defer c.hc.CloseIdleConnections()
	}
	u := c.base.JoinPath("presence")
	u.RawQuery = url.Values{"channel": {channel}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return p, fmt.Errorf("client: presence: %w", err)
	}
	tok, err := c.bearer(ctx)
	if err != nil {
		return p, fmt.Errorf("client: presence: %w", err)
	}
	c.request(req, session, tok)
	res, err := c.hc.Do(req)
	if err != nil {
		return p, fmt.Errorf("client: presence: %w", err)
	}
	defer res.Body.Close()
	c.setSession(res.Header.Get(sessionHeader))
	if res.StatusCode != http.StatusOK {
		ae := readAPIError(res)
		if ae.Reason != "" {
			re := &RefusedError{Op: "presence", Reason: ae.Reason, Message: ae.Message, Status: ae.Status, api: ae}
			c.noteRefused(tok, re)
			return p, re
		}
		return p, fmt.Errorf("client: presence: %w", ae)
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 4<<20)).Decode(&p); err != nil {
		return p, fmt.Errorf("client: presence: bad answer: %w", err)
	}
	return p, nil
}
