package httpapi

import (
	"net/http"
	"strings"
)

// okResponse is the answer of a command that worked.
type okResponse struct {
	OK bool `json:"ok"`
}

// statsResponse is the answer of GET /api/stats.
type statsResponse struct {
	Channels    int    `json:"channels"`
	Sessions    int    `json:"sessions"`
	Active      bool   `json:"active"`
	PollTimeout string `json:"poll_timeout"`
}

// command runs one command-pipe line sent as a text body, whatever its
// media type, as operators send it with curl --data.
func (a *api) command(w http.ResponseWriter, r *http.Request) {
	body, ok := a.readBody(w, r)
	if !ok {
		return
	}
	line := strings.TrimSpace(string(body))
	if err := a.hub.Command(line); err != nil {
		a.writeHubError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, okResponse{OK: true})
}

func (a *api) stats(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, statsResponse{
		Channels:    a.hub.ChannelCount(),
		Sessions:    a.hub.SessionCount(),
		Active:      a.hub.Active(),
		PollTimeout: a.hub.PollTimeout().String(),
	})
}
