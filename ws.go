package halley

import "net/http"

// WSHandler returns the WebSocket transport (docs/protocol.md).
func (h *Hub) WSHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		jsonError(w, http.StatusNotImplemented, "not_implemented", "WebSocket is not implemented yet")
	})
}
