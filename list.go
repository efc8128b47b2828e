package halley

import (
	"slices"
	"strings"
)

// MaxList is the most entries Channels and Sessions return at once.
const MaxList = 1000

// listBound clamps a requested page size to [1, MaxList]; zero or less
// means MaxList.
func listBound(limit int) int {
	if limit <= 0 || limit > MaxList {
		return MaxList
	}
	return limit
}

// Channels returns up to limit of the live channels this node holds
// (buses included, the hub's internal rings not), sorted by id, starting
// after the id after ("" for the first page): an admin page pages through
// them by passing the last id it got. limit is at most MaxList (zero or
// less: MaxList). In a cluster, the channels that only other nodes hold
// are not listed. The cost is one walk of the registry under its read
// lock and a sort of the ids past after, O(n log n).
func (h *Hub) Channels(after string, limit int) []*Channel {
	limit = listBound(limit)
	h.mu.RLock()
	out := make([]*Channel, 0, min(len(h.channels), 4*limit))
	for id, c := range h.channels {
		if !c.internal && id > after {
			out = append(out, c)
		}
	}
	h.mu.RUnlock()
	slices.SortFunc(out, func(a, b *Channel) int { return strings.Compare(a.id, b.id) })
	return slices.Clip(out[:min(len(out), limit)])
}

// Sessions returns up to limit of the live sessions of this node, sorted
// by id, starting after the id after ("" for the first page), as Channels
// does. limit is at most MaxList (zero or less: MaxList).
func (h *Hub) Sessions(after string, limit int) []*Session {
	limit = listBound(limit)
	h.smu.RLock()
	out := make([]*Session, 0, min(len(h.sessions), 4*limit))
	for id, s := range h.sessions {
		if id > after {
			out = append(out, s)
		}
	}
	h.smu.RUnlock()
	slices.SortFunc(out, func(a, b *Session) int { return strings.Compare(a.id, b.id) })
	return slices.Clip(out[:min(len(out), limit)])
}

// Channels returns the ids of the channels the session owns (its session
// channels and the lazy channels made for it; not its internal
// notification ring), sorted.
func (s *Session) Channels() []string {
	s.mu.Lock()
	ids := make([]string, 0, len(s.channels))
	for c := range s.channels {
		if !c.internal {
			ids = append(ids, c.id)
		}
	}
	s.mu.Unlock()
	slices.Sort(ids)
	return ids
}
