package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/halleyhq/halley"
	"github.com/halleyhq/halley/hooks"
)

// notifierRequest is the body of POST /api/notifiers.
type notifierRequest struct {
	Name       string `json:"name"`
	PrepareURL string `json:"prepare_url"`
	// PrepareBatch asks prepare_url about a batch of listeners per
	// request (hooks.PrepareBatch) rather than one.
	PrepareBatch bool `json:"prepare_batch"`
	Public       bool `json:"public"`
}

// notifierResponse is the answer of POST /api/notifiers.
type notifierResponse struct {
	Name string `json:"name"`
}

// notifyRequest is the body of POST /api/notify.
type notifyRequest struct {
	Notifier string          `json:"notifier"`
	Key      string          `json:"key"`
	Data     json.RawMessage `json:"data"`
	NotFor   halley.NotFor   `json:"not_for"`
}

// notifyResponse is the answer of POST /api/notify.
type notifyResponse struct {
	Listeners int `json:"listeners"`
}

// listenRequest is the body of POST /api/listen and /api/unlisten.
type listenRequest struct {
	Session  string `json:"session"`
	Notifier string `json:"notifier"`
	Key      string `json:"key"`
}

// listenResponse is the answer of POST /api/listen.
type listenResponse struct {
	Channel string `json:"channel"`
}

// unlistenUserRequest is the body of POST /api/unlisten_user.
type unlistenUserRequest struct {
	Notifier string `json:"notifier"`
	User     string `json:"user"`
	Key      string `json:"key"`
}

// unlistenUserResponse is the answer of POST /api/unlisten_user.
type unlistenUserResponse struct {
	Unlistened int `json:"unlistened"`
}

// createNotifier creates a notifier over string keys and JSON
// notifications: passed through to every listener, or made for each by
// the backend at prepare_url, one listener or (with prepare_batch) one
// batch of listeners per request.
func (a *api) createNotifier(w http.ResponseWriter, r *http.Request) {
	var req notifierRequest
	if !a.decodeJSON(w, r, &req) {
		return
	}
	opts := halley.NotifierOptions[string, json.RawMessage, json.RawMessage]{Name: req.Name, Public: req.Public}
	if req.PrepareBatch && req.PrepareURL == "" {
		writeError(w, http.StatusBadRequest, "invalid_options", "prepare_batch needs a prepare_url")
		return
	}
	if req.PrepareURL != "" {
		if err := hooks.CheckURL(req.PrepareURL); err != nil {
			writeError(w, http.StatusBadRequest, "invalid_options", "prepare_url: "+err.Error())
			return
		}
		if req.PrepareBatch {
			opts.PrepareBatch = hooks.PrepareBatch(req.Name, req.PrepareURL, a.hooks)
		} else {
			opts.Prepare = hooks.Prepare(req.Name, req.PrepareURL, a.hooks)
		}
		opts.Concurrency = hooks.Concurrency
		// Other nodes of a cluster make the notifier again from its
		// request.
		opts.Spec, _ = json.Marshal(req)
	}
	n, err := halley.NewNotifier(a.hub, opts)
	if err != nil {
		a.writeHubError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, notifierResponse{Name: n.Name()})
}

func (a *api) notify(w http.ResponseWriter, r *http.Request) {
	var req notifyRequest
	if !a.decodeJSON(w, r, &req) {
		return
	}
	if req.Notifier == "" || req.Key == "" {
		writeError(w, http.StatusBadRequest, "bad_request", `"notifier" and "key" are required`)
		return
	}
	if req.Data == nil {
		writeError(w, http.StatusBadRequest, "bad_request", `"data" is required`)
		return
	}
	var payload bytes.Buffer
	if err := json.Compact(&payload, req.Data); err != nil {
		writeError(w, http.StatusBadRequest, "bad_json", err.Error())
		return
	}
	// Every listener is prepared for in turn, maybe by a backend: finish
	// even if the caller goes away, so that none is left out.
	ctx := context.WithoutCancel(r.Context())
	n, err := a.hub.Notify(ctx, req.Notifier, req.Key, payload.Bytes(), req.NotFor)
	if err != nil {
		// A notifier written in Go decodes the data into its own type.
		_, badType := errors.AsType[*json.UnmarshalTypeError](err)
		_, badSyntax := errors.AsType[*json.SyntaxError](err)
		if badType || badSyntax {
			writeError(w, http.StatusBadRequest, "bad_json", "the data does not fit the notifier: "+err.Error())
			return
		}
		a.writeHubError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, notifyResponse{Listeners: n})
}

// listenTarget decodes a listen or unlisten request and finds its
// session. On failure it has answered the request and returns false.
func (a *api) listenTarget(w http.ResponseWriter, r *http.Request) (*halley.Session, listenRequest, bool) {
	var req listenRequest
	if !a.decodeJSON(w, r, &req) {
		return nil, req, false
	}
	if req.Session == "" || req.Notifier == "" || req.Key == "" {
		writeError(w, http.StatusBadRequest, "bad_request", `"session", "notifier" and "key" are required`)
		return nil, req, false
	}
	s, ok := a.hub.Session(req.Session)
	if !ok {
		writeError(w, http.StatusNotFound, "unknown_session", "no live session has the id "+req.Session)
		return nil, req, false
	}
	return s, req, true
}

// listen makes a session listen on a key on behalf of its client, for
// backends that manage listening themselves.
func (a *api) listen(w http.ResponseWriter, r *http.Request) {
	s, req, ok := a.listenTarget(w, r)
	if !ok {
		return
	}
	ch, err := a.hub.Listen(s, req.Notifier, req.Key)
	if err != nil {
		a.writeHubError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, listenResponse{Channel: ch})
}

// unlisten stops a session listening on a key (Eliom's Ext.unlisten).
func (a *api) unlisten(w http.ResponseWriter, r *http.Request) {
	s, req, ok := a.listenTarget(w, r)
	if !ok {
		return
	}
	if err := a.hub.Unlisten(s, req.Notifier, req.Key); err != nil {
		a.writeHubError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// unlistenUser stops every session of a user listening on a key
// (ocsigen-start's unlisten_user).
func (a *api) unlistenUser(w http.ResponseWriter, r *http.Request) {
	var req unlistenUserRequest
	if !a.decodeJSON(w, r, &req) {
		return
	}
	if req.Notifier == "" || req.User == "" || req.Key == "" {
		writeError(w, http.StatusBadRequest, "bad_request", `"notifier", "user" and "key" are required`)
		return
	}
	n, err := a.hub.UnlistenUser(req.Notifier, req.User, req.Key)
	if err != nil {
		a.writeHubError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, unlistenUserResponse{Unlistened: n})
}
