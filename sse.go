package halley

import "net/http"

// SSEHandler returns the Server-Sent Events transport (docs/protocol.md).
func (h *Hub) SSEHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		jsonError(w, http.StatusNotImplemented, "not_implemented", "SSE is not implemented yet")
	})
}
