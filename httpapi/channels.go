package httpapi

import (
	"context"
	"net/http"
	"net/url"

	"github.com/halleyhq/halley"
)

// createRequest is the body of POST /api/channels.
type createRequest struct {
	// Name is absent for a fresh id; present, it must be valid (an
	// empty name is invalid_name, not a fresh id).
	Name    *string `json:"name"`
	Kind    string  `json:"kind"`
	Size    int     `json:"size"`
	Session string  `json:"session"`
	Public  bool    `json:"public"`
	// Presence: see halley.ChannelOptions.Presence.
	Presence bool `json:"presence"`
}

// createResponse is the answer of POST /api/channels.
type createResponse struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	Size int    `json:"size"`
}

// channelInfo is the answer of GET /api/channels/{id}.
type channelInfo struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	// Scope is the scope of a bus (kind "bus").
	Scope string `json:"scope,omitempty"`
	// Listeners counts the client connections reading the channel, on
	// every node of a cluster; NodeListeners those of this node.
	Listeners     int    `json:"listeners"`
	NodeListeners int    `json:"node_listeners"`
	Offset        uint64 `json:"offset"`
	Size          int    `json:"size"`
	// Public reports whether every client may read the channel
	// (ChannelOptions.Public).
	Public bool `json:"public"`
	// Presence reports whether the channel keeps its members
	// (ChannelOptions.Presence): see GET /api/channels/{id}/presence.
	Presence bool `json:"presence"`
}

func (a *api) createChannel(w http.ResponseWriter, r *http.Request) {
	var req createRequest
	if !a.decodeJSON(w, r, &req) {
		return
	}
	kind, err := halley.ParseKind(req.Kind)
	if err != nil {
		a.writeHubError(w, r, err)
		return
	}
	if kind == halley.KindLazy {
		writeError(w, http.StatusBadRequest, "invalid_options",
			"a lazy channel needs a producer written in Go: it cannot be created over HTTP")
		return
	}
	if kind == halley.KindSession && req.Public {
		// The hub would quietly make it private: say so instead.
		writeError(w, http.StatusBadRequest, "invalid_options",
			"a session channel belongs to its session: it cannot be public")
		return
	}
	var name string
	if req.Name != nil {
		if name = *req.Name; name == "" {
			writeError(w, http.StatusBadRequest, "invalid_name", `"name" is empty: give a name, or leave "name" out for a fresh id`)
			return
		}
	}
	opts := halley.ChannelOptions{Name: name, Kind: kind, Size: req.Size, Public: req.Public, Presence: req.Presence}
	if req.Session != "" {
		s, ok := a.hub.Session(req.Session)
		if !ok {
			writeError(w, http.StatusNotFound, "unknown_session", "no live session has the id "+req.Session)
			return
		}
		opts.Session = s
	}
	c, err := a.hub.NewChannel(r.Context(), opts)
	if err != nil {
		a.writeHubError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/channels/"+url.PathEscape(c.ID()))
	writeJSON(w, http.StatusCreated, createResponse{ID: c.ID(), Kind: c.Kind().String(), Size: c.Size()})
}

func (a *api) getChannel(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	c, ok := a.hub.Channel(id)
	if !ok {
		writeError(w, http.StatusNotFound, "unknown_channel", "no live channel has the id "+id)
		return
	}
	info := channelInfo{
		ID:            c.ID(),
		Kind:          c.Kind().String(),
		Listeners:     c.Listeners(),
		NodeListeners: c.Listeners(),
		Offset:        c.Offset(),
		Size:          c.Size(),
		Public:        c.Public(),
		Presence:      c.HasPresence(),
	}
	if b, ok := a.hub.Bus(id); ok {
		info.Kind, info.Scope = "bus", b.Scope().String()
	}
	if a.hub.Clustered() {
		n, err := a.hub.ClusterListeners(r.Context(), id)
		if err != nil {
			a.writeHubError(w, r, err)
			return
		}
		info.Listeners = n
	}
	writeJSON(w, http.StatusOK, info)
}

func (a *api) deleteChannel(w http.ResponseWriter, r *http.Request) {
	// The channel is ended as soon as the close begins; finish cleaning
	// up the broker even if the client goes away.
	ctx := context.WithoutCancel(r.Context())
	id := r.PathValue("id")
	if b, ok := a.hub.Bus(id); ok {
		// A bus also ends the queues of its session-scoped readers.
		if err := b.Close(ctx); err != nil {
			a.writeHubError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if err := a.hub.CloseChannel(ctx, id); err != nil {
		a.writeHubError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
