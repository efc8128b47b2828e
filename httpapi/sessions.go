package httpapi

import "net/http"

// sessionResponse is the answer of POST /api/sessions.
type sessionResponse struct {
	ID string `json:"id"`
}

func (a *api) createSession(w http.ResponseWriter, r *http.Request) {
	s, err := a.hub.NewSession()
	if err != nil {
		a.writeHubError(w, r, err)
		return
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
