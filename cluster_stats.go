package halley

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// What each node of a cluster reports of itself, every registryCheck, so
// that any node can add the figures up.

const tableNodes = "nodes"

// A report older than staleReport is a node that is gone (or cut off):
// it is left out of the sums, and dropped after dropReport.
const (
	staleReport = 5 * registryCheck
	dropReport  = time.Minute
)

// nodeReport is a node's report in the registry.
type nodeReport struct {
	At       int64 `json:"at"` // Unix milliseconds
	Sessions int   `json:"sessions"`
	// Listeners are the client connections reading each channel that
	// has some on the node.
	Listeners map[string]int `json:"listeners,omitempty"`
	// Distinct are the distinct sessions and users among them, by
	// channel (presence.go).
	Distinct map[string][2]int `json:"distinct,omitempty"`
}

// NodeStats is what one node of a cluster reported of itself.
type NodeStats struct {
	// Node is the node's id (random, made at New).
	Node string `json:"node"`
	// Sessions is the number of sessions the node holds; a session that
	// several nodes served counts on each.
	Sessions int `json:"sessions"`
	// Listeners is the number of client connections reading a channel on
	// the node.
	Listeners int `json:"listeners"`
	// Age is how long ago the node reported.
	Age time.Duration `json:"-"`
}

// ClusterStats adds up what the live nodes of a cluster report.
type ClusterStats struct {
	// Nodes are the nodes that reported in the last few seconds, this
	// one included, by id.
	Nodes []NodeStats `json:"nodes"`
	// Channels counts the channels and buses of every node, as
	// Config.MaxChannels does.
	Channels int `json:"channels"`
	// Listeners counts the client connections reading a channel, over
	// every node.
	Listeners int `json:"listeners"`
}

// snapshot is this node's report now.
func (h *Hub) snapshot() nodeReport {
	r := nodeReport{At: time.Now().UnixMilli(), Sessions: h.SessionCount(), Listeners: make(map[string]int), Distinct: make(map[string][2]int)}
	h.mu.RLock()
	chans := make([]*Channel, 0, len(h.channels))
	for _, c := range h.channels {
		chans = append(chans, c)
	}
	h.mu.RUnlock()
	for _, c := range chans {
		if n := c.Listeners(); n > 0 {
			r.Listeners[c.id] = n
			if p, members := c.localPresence(); members == nil {
				r.Distinct[c.id] = [2]int{p.Sessions, p.Users}
			}
		}
	}
	return r
}

// report puts this node's report in the registry.
func (h *Hub) report() {
	data, _ := json.Marshal(h.snapshot())
	ctx, cancel := h.op()
	defer cancel()
	if err := h.reg.Put(ctx, tableNodes, h.node, data, 0); err != nil {
		h.log.Debug("halley: node report", "err", err)
	}
}

// reports returns the live nodes' reports, this node's taken now, and
// drops those of nodes long gone.
func (h *Hub) reports(ctx context.Context) (map[string]nodeReport, error) {
	all, err := h.reg.All(ctx, tableNodes)
	if err != nil {
		return nil, fmt.Errorf("cluster stats: %w", err)
	}
	now := time.Now()
	out := make(map[string]nodeReport, len(all))
	for node, data := range all {
		var r nodeReport
		if json.Unmarshal(data, &r) != nil {
			continue
		}
		age := now.Sub(time.UnixMilli(r.At))
		switch {
		case node == h.node:
		case age > dropReport:
			_ = h.reg.Release(ctx, tableNodes, node)
		case age <= staleReport:
			out[node] = r
		}
	}
	out[h.node] = h.snapshot()
	return out, nil
}

// ClusterStats adds up the figures of the nodes sharing the hub's broker.
// Alone (a broker that is not a broker.Registry), it gives this node's.
func (h *Hub) ClusterStats(ctx context.Context) (ClusterStats, error) {
	if !h.clustered() {
		r := h.snapshot()
		n := NodeStats{Node: h.node, Sessions: r.Sessions}
		for _, l := range r.Listeners {
			n.Listeners += l
		}
		return ClusterStats{Nodes: []NodeStats{n}, Channels: h.ChannelCount(), Listeners: n.Listeners}, nil
	}
	reps, err := h.reports(ctx)
	if err != nil {
		return ClusterStats{}, err
	}
	var st ClusterStats
	now := time.Now()
	for node, r := range reps {
		n := NodeStats{Node: node, Sessions: r.Sessions, Age: now.Sub(time.UnixMilli(r.At))}
		for _, l := range r.Listeners {
			n.Listeners += l
		}
		st.Listeners += n.Listeners
		st.Nodes = append(st.Nodes, n)
	}
	sort.Slice(st.Nodes, func(i, j int) bool { return st.Nodes[i].Node < st.Nodes[j].Node })
	if st.Channels, err = h.reg.Count(ctx, tableChannels); err != nil {
		return ClusterStats{}, fmt.Errorf("cluster stats: %w", err)
	}
	return st, nil
}

// ClusterListeners returns the number of client connections reading the
// channel id over every live node (as of their last reports, and this
// node's now). Alone, it is the channel's Listeners.
func (h *Hub) ClusterListeners(ctx context.Context, id string) (int, error) {
	if !h.clustered() {
		c, ok := h.local(id)
		if !ok {
			return 0, nil
		}
		return c.Listeners(), nil
	}
	reps, err := h.reports(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range reps {
		n += r.Listeners[id]
	}
	return n, nil
}

// Clustered reports whether the hub shares its channels and sessions with
// other nodes, its broker being a broker.Registry.
func (h *Hub) Clustered() bool { return h.clustered() }

// Node returns the hub's id among the nodes sharing its broker.
func (h *Hub) Node() string { return h.node }
