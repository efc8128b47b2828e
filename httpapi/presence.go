package httpapi

import "net/http"

// presence answers GET /api/channels/{id}/presence: who reads the channel
// now (halley.Presence), with the members and their session ids when the
// channel has presence.
func (a *api) presence(w http.ResponseWriter, r *http.Request) {
	p, err := a.hub.Presence(r.Context(), r.PathValue("id"))
	if err != nil {
		a.writeHubError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}
