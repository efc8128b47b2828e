package client

import (
	"context"
	"fmt"
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
