// Package httpapi is Halley's JSON HTTP API, for backends written in any
// language: create and close channels and buses, publish messages, manage
// sessions and their users, create notifiers, notify and manage listeners,
// ask who is present on a channel, run control commands and read
// statistics. Buses and notifiers created
// here may call back the backend through HTTP hooks (package hooks).
//
// Use New to build the handler and mount it at "/api/" next to the hub's
// client transports:
//
//	mux.Handle("/api/", httpapi.New(hub, httpapi.Options{APIKey: key}))
//	mux.Handle("/", hub.Handler()) // /comet, /ws, /sse, /poll, /write, /listen, /unlisten, /presence
//
// hub.Handler serves its paths from the root: under a prefix, strip it
// (mux.Handle("/push/", http.StripPrefix("/push", hub.Handler()))).
// The runnable example is in example_test.go (go doc does not print
// examples; pkgsite does, and go test runs them).
//
// # Errors
//
// Every error answer has an HTTP status and a JSON body
// {"error": "<reason>", "message": "<text>"}. Clients switch on the reason,
// which is stable; the message is for humans and may change. The reasons
// of library errors are those of halley.Reason.
//
// # Security
//
// With Options.APIKey set, every request must carry
// "Authorization: Bearer <key>". Without a key, the API answers only
// clients connecting from a loopback address; behind a reverse proxy on
// the same host every client looks local, so set a key there. A browser
// on the same host is local too, and runs pages of any site: without a
// key the API also refuses requests for a Host that is not a loopback
// name (DNS rebinding), requests that the browser marks as coming from
// another origin (Sec-Fetch-Site, Origin), and bodies that are not
// application/json (which a page can send anywhere without a preflight).
// Then POST /api/command takes only its JSON form,
// {"command": "comet:deactivate"}.
package httpapi
