package httpapi

import (
	"net/http"
	"strconv"

	"github.com/halleyhq/halley"
)

// The page sizes of GET /api/channels and GET /api/sessions.
const (
	defaultListLimit = 100
	maxListLimit     = halley.MaxList
)

// channelList is the answer of GET /api/channels.
type channelList struct {
	Channels []channelInfo `json:"channels"`
	// Next, when set, is the after= of the next page: the page was full.
	Next string `json:"next,omitempty"`
}

// sessionInfo is one session of GET /api/sessions.
type sessionInfo struct {
	ID   string `json:"id"`
	User string `json:"user,omitempty"`
	// Channels are the ids of the channels the session owns.
	Channels []string `json:"channels"`
}

// sessionList is the answer of GET /api/sessions.
type sessionList struct {
	// Count is the number of live sessions, on this node.
	Count    int           `json:"count"`
	Sessions []sessionInfo `json:"sessions"`
	Next     string        `json:"next,omitempty"`
}

// page reads the limit= and after= of a list request; it answers 400
// itself when limit is not a positive integer. A limit over the maximum
// is cut to it.
func page(w http.ResponseWriter, r *http.Request) (after string, limit int, ok bool) {
	q := r.URL.Query()
	limit = defaultListLimit
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "bad_request", "limit must be a positive integer (at most "+strconv.Itoa(maxListLimit)+")")
			return "", 0, false
		}
		limit = min(n, maxListLimit)
	}
	return q.Get("after"), limit, true
}

// listChannels answers GET /api/channels: the channels of this node by
// id, a page at a time. Listeners are this node's (GET
// /api/channels/{id} adds up the cluster's).
func (a *api) listChannels(w http.ResponseWriter, r *http.Request) {
	after, limit, ok := page(w, r)
	if !ok {
		return
	}
	chans := a.hub.Channels(after, limit)
	res := channelList{Channels: make([]channelInfo, 0, len(chans))}
	for _, c := range chans {
		n := c.Listeners()
		info := channelInfo{ID: c.ID(), Kind: c.Kind().String(), Listeners: n, NodeListeners: n, Offset: c.Offset(), Size: c.Size(), Public: c.Public()}
		if b, ok := a.hub.Bus(c.ID()); ok {
			info.Kind, info.Scope = "bus", b.Scope().String()
		}
		res.Channels = append(res.Channels, info)
	}
	if len(chans) == limit {
		res.Next = chans[len(chans)-1].ID()
	}
	writeJSON(w, http.StatusOK, res)
}

// listSessions answers GET /api/sessions: the count of live sessions and
// a page of them by id.
func (a *api) listSessions(w http.ResponseWriter, r *http.Request) {
	after, limit, ok := page(w, r)
	if !ok {
		return
	}
	ss := a.hub.Sessions(after, limit)
	res := sessionList{Count: a.hub.SessionCount(), Sessions: make([]sessionInfo, 0, len(ss))}
	for _, s := range ss {
		res.Sessions = append(res.Sessions, sessionInfo{ID: s.ID(), User: s.User(), Channels: s.Channels()})
	}
	if len(ss) == limit {
		res.Next = ss[len(ss)-1].ID()
	}
	writeJSON(w, http.StatusOK, res)
}

// statsDetail is what GET /api/stats?detail=1 adds: the counters of
// Hub.Stats, for a dashboard that plots their rates.
type statsDetail struct {
	// Connections are the client connections open now, by transport.
	Connections map[string]int64 `json:"connections"`
	// Kinds counts the channels of this node by kind.
	Kinds        map[string]int    `json:"channel_kinds"`
	Published    uint64            `json:"published"`
	Delivered    uint64            `json:"delivered"`
	BytesWritten uint64            `json:"bytes_written"`
	Gaps         map[string]uint64 `json:"gaps"`
	Ends         map[string]uint64 `json:"ends"`
	SlowClients  uint64            `json:"slow_clients"`
	// WriteLatency is the count and sum (seconds) of Stats.WriteLatency.
	WriteLatency latencySummary `json:"write_latency"`
}

type latencySummary struct {
	Count uint64  `json:"count"`
	Sum   float64 `json:"sum"`
}

// detail returns the detail of GET /api/stats when the request asks for
// it (detail=1), else nil.
func (a *api) detail(r *http.Request) *statsDetail {
	if r.URL.Query().Get("detail") != "1" {
		return nil
	}
	st := a.hub.Stats()
	return &statsDetail{
		Connections: st.Connections, Kinds: st.Channels,
		Published: st.Published, Delivered: st.Delivered, BytesWritten: st.BytesWritten,
		Gaps: st.Gaps, Ends: st.Ends, SlowClients: st.SlowClients,
		WriteLatency: latencySummary{Count: st.WriteLatency.Count, Sum: st.WriteLatency.Sum},
	}
}
