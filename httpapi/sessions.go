package httpapi

import (
	"bytes"
	"net/http"
)

// sessionRequest is the optional body of POST /api/sessions.
type sessionRequest struct {
	// User is the user the session belongs to (Session.SetUser).
	User string `json:"user"`
}

// sessionResponse is the answer of POST /api/sessions.
type sessionResponse struct {
	ID string `json:"id"`
}

func (a *api) createSession(w http.ResponseWriter, r *http.Request) {
	body, ok := a.readBody(w, r)
	if !ok {
		return
	}
	var req sessionRequest
	// No body, or null, creates a session without a user, as before
	// sessions had users.
	if b := bytes.TrimSpace(body); len(b) > 0 && string(b) != "null" {
		if !decodeBody(w, r, body, &req) {
			return
		}
	}
	s, err := a.hub.NewSession()
	if err != nil {
		a.writeHubError(w, r, err)
		return
	}
	if req.User != "" {
		s.SetUser(req.User)
	}
	writeJSON(w, http.StatusCreated, sessionResponse{ID: s.ID()})
}

func (a *api) deleteSession(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s, ok := a.hub.Session(id)
	if !ok {
		writeError(w, http.StatusNotFound, "unknown_session", "no live session has the id "+id)
		return
	}
	s.Close()
	w.WriteHeader(http.StatusNoContent)
}
