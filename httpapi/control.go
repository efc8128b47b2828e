package httpapi

import (
	"net/http"
	"strings"

	"github.com/halleyhq/halley"
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
	// Refused counts the clients the hub refused, by reason.
	Refused map[string]uint64 `json:"refused"`
	// Node is this node's id; the figures above are this node's.
	Node string `json:"node"`
	// Cluster adds up the figures of every live node, when the hub is
	// one of several (a Redis broker).
	Cluster *halley.ClusterStats `json:"cluster,omitempty"`
	// statsDetail, with ?detail=1, adds the counters of Hub.Stats.
	*statsDetail
	// Writes counts the streams' writes by pacing (halley.WriteCounts).
	Writes writeCounts `json:"writes"`
}

// writeCounts is halley.WriteCounts in JSON.
type writeCounts struct {
	AtOnce   uint64 `json:"at_once"`
	Gathered uint64 `json:"gathered"`
}

// commandRequest is the JSON form of the body of POST /api/command.
type commandRequest struct {
	Command string `json:"command"`
}

// command runs one command-pipe line. The line comes as JSON,
// {"command": "comet:deactivate"} with Content-Type: application/json,
// or, when the API has a key, as a text body of any media type, as
// operators send it with curl --data. Without a key the text form is
// refused: a web page may send text to any origin without a preflight,
// but not JSON, nor a bearer key.
func (a *api) command(w http.ResponseWriter, r *http.Request) {
	var line string
	if isJSON(r) {
		var req commandRequest
		if !a.decodeJSON(w, r, &req) {
			return
		}
		if req.Command == "" {
			writeError(w, http.StatusBadRequest, "bad_request", `"command" is required`)
			return
		}
		line = req.Command
	} else {
		if !a.keyed {
			writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type",
				`the API has no key: send {"command": "..."} with Content-Type: application/json`)
			return
		}
		body, ok := a.readBody(w, r)
		if !ok {
			return
		}
		line = string(body)
	}
	if err := a.hub.Command(strings.TrimSpace(line)); err != nil {
		a.writeHubError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, okResponse{OK: true})
}

func (a *api) stats(w http.ResponseWriter, r *http.Request) {
	wc := a.hub.WriteCounts()
	res := statsResponse{
		Channels:    a.hub.ChannelCount(),
		Sessions:    a.hub.SessionCount(),
		Active:      a.hub.Active(),
		PollTimeout: a.hub.PollTimeout().String(),
		Refused:     a.hub.Refusals(),
		Writes:      writeCounts{AtOnce: wc.AtOnce, Gathered: wc.Gathered},
		Node:        a.hub.Node(),
		statsDetail: a.detail(r),
	}
	if a.hub.Clustered() {
		cs, err := a.hub.ClusterStats(r.Context())
		if err != nil {
			a.writeHubError(w, r, err)
			return
		}
		res.Cluster = &cs
	}
	writeJSON(w, http.StatusOK, res)
}
