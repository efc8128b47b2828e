package halley

import (
	"net/http"
	"sort"
)

// ClientPresence is a channel's presence as clients see it: counts and
// users, never session ids.
type ClientPresence struct {
	Channel     string `json:"channel"`
	Connections int    `json:"connections"`
	Sessions    int    `json:"sessions"`
	Users       int    `json:"users"`
	Enabled     bool   `json:"presence"`
	// Members are the users of a channel with presence, each with its
	// sessions and connections ("" for the anonymous ones).
	Members   []UserPresence `json:"members,omitempty"`
	Truncated bool           `json:"truncated,omitempty"`
}

// UserPresence is one user among a channel's members.
type UserPresence struct {
	User        string `json:"user,omitempty"`
	Sessions    int    `json:"sessions"`
	Connections int    `json:"connections"`
}

// clientView strips the session ids of p, merging the members by user.
func (p Presence) clientView() ClientPresence {
	cp := ClientPresence{Channel: p.Channel, Connections: p.Connections, Sessions: p.Sessions, Users: p.Users, Enabled: p.Enabled, Truncated: p.Truncated}
	if !p.Enabled {
		return cp
	}
	byUser := make(map[string]*UserPresence)
	for _, m := range p.Members {
		u := byUser[m.User]
		if u == nil {
			u = &UserPresence{User: m.User}
			byUser[m.User] = u
		}
		u.Sessions++
		u.Connections += m.Connections
	}
	cp.Members = make([]UserPresence, 0, len(byUser))
	for _, u := range byUser {
		cp.Members = append(cp.Members, *u)
	}
	sort.Slice(cp.Members, func(i, j int) bool { return cp.Members[i].User < cp.Members[j].User })
	return cp
}

// PresenceHandler returns GET /presence?channel=ID: who reads a channel,
// for a client that may read it (the rule of subscribing: its session's
// channels, public ones, or those its token allows). The answer is a
// ClientPresence: users and counts, never session ids.
func (h *Hub) PresenceHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := h.admit(w, r, http.MethodGet)
		if v == nil {
			return
		}
		defer v.done()
		id := r.URL.Query().Get("channel")
		if id == "" {
			h.jsonError(w, http.StatusBadRequest, "bad_request", "want a channel")
			return
		}
		if !v.join(w) {
			return
		}
		v.keep()
		c, reason := h.resolve(v.s, &v.grant, id)
		switch reason {
		case "":
		case reasonForbidden:
			h.jsonError(w, http.StatusForbidden, reason, "the client may not read "+id)
			return
		default:
			h.jsonError(w, http.StatusNotFound, reason, "no live channel has the id "+id)
			return
		}
		p, err := h.Presence(r.Context(), c.id)
		if err != nil {
			h.jsonError(w, statusOf(err), Reason(err), clientMessage(err))
			return
		}
		writeJSON(w, http.StatusOK, p.clientView())
	})
}
