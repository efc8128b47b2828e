package httpapi

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/hooks"
)

// busRequest is the body of POST /api/buses.
type busRequest struct {
	Name      string `json:"name"`
	Scope     string `json:"scope"`
	Size      int    `json:"size"`
	FilterURL string `json:"filter_url"`
	Public    bool   `json:"public"`
	Presence  bool   `json:"presence"`
}

// busResponse is the answer of POST /api/buses.
type busResponse struct {
	ID    string `json:"id"`
	Scope string `json:"scope"`
	Size  int    `json:"size"`
}

func (a *api) createBus(w http.ResponseWriter, r *http.Request) {
	var req busRequest
	if !a.decodeJSON(w, r, &req) {
		return
	}
	scope, err := halley.ParseBusScope(req.Scope)
	if err != nil {
		a.writeHubError(w, r, err)
		return
	}
	opts := halley.BusOptions{Name: req.Name, Scope: scope, Size: req.Size, Public: req.Public, Presence: req.Presence}
	if req.FilterURL != "" {
		if err := hooks.CheckURL(req.FilterURL); err != nil {
			writeError(w, http.StatusBadRequest, "invalid_options", "filter_url: "+err.Error())
			return
		}
		// The filter tells its backend the bus id, which must be known
		// before the bus exists.
		if opts.Name == "" {
			opts.Name = freshID()
		}
		opts.Filter = hooks.Filter(opts.Name, req.FilterURL, a.hooks)
		// Other nodes of a cluster make the bus again from its request.
		req.Name = opts.Name
		opts.Spec, _ = json.Marshal(req)
	}
	b, err := a.hub.NewBus(r.Context(), opts)
	if err != nil {
		a.writeHubError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/channels/"+url.PathEscape(b.ID()))
	writeJSON(w, http.StatusCreated, busResponse{ID: b.ID(), Scope: b.Scope().String(), Size: b.Channel().Size()})
}

// freshID returns an unguessable id of the form the hub gives channels:
// 128 random bits, URL-safe base64.
func freshID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b[:])
}
