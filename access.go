package halley

import "fmt"

// Who may read what is decided here, once, for every transport.
//
// A channel that belongs to a session (a session channel, a session's
// notifications, a lazy channel made for it) answers that session only: to
// anybody else it is exactly like a channel that does not exist, so its id
// leaks nothing and nothing a stranger does moves its owner's position.
// With an Authorizer, every other channel needs the right to read it
// (Rights.CanSubscribe) unless it is public; the right is checked by name
// before the channel is looked up, so a client without it learns nothing
// about which names exist.

// Reasons of ended frames and errors that access gives.
const (
	reasonForbidden = "forbidden"
)

// authz reports whether clients need rights (an Authorizer is set).
func (h *Hub) authz() bool { return h.cfg.Authorizer != nil }

// mayRead reports whether grant g allows reading the channel called id
// that is c (nil: none by that name). Session-owned channels are not
// decided here.
func (h *Hub) mayRead(g *Grant, id string, c *Channel) bool {
	if !h.authz() || c != nil && c.public {
		return true
	}
	return g != nil && g.Rights != nil && g.Rights.CanSubscribe(id)
}

// resolve finds the channel that session s (nil: none) with grant g reads
// as id, or the reason it may not: unknown_channel or forbidden.
func (h *Hub) resolve(s *Session, g *Grant, id string) (*Channel, string) {
	c, ok := h.Channel(id)
	if ok && c.session != nil {
		if c.session == s {
			return c, ""
		}
		c, ok = nil, false // a stranger: as if there were no such channel
	}
	if !h.mayRead(g, id, c) {
		h.refusals.add(reasonForbidden)
		return nil, reasonForbidden
	}
	if !ok {
		return nil, reasonUnknownChannel
	}
	return c, ""
}

// mayWrite checks that grant g allows a client to write to the bus id.
func (h *Hub) mayWrite(g *Grant, id string) error {
	if !h.authz() || g != nil && g.Rights != nil && g.Rights.CanWrite(id) {
		return nil
	}
	return fmt.Errorf("write to %q: %w", id, ErrForbidden)
}

// mayListen checks that grant g allows a client to listen on key of the
// notifier n (nil: none by that name).
func (h *Hub) mayListen(g *Grant, name, key string, n *notifier) error {
	if !h.authz() || n != nil && n.public || g != nil && g.Rights != nil && g.Rights.CanListen(name, key) {
		return nil
	}
	return fmt.Errorf("listen on %q of %q: %w", key, name, ErrForbidden)
}
