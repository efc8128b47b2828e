// Package hooks lets backends not written in Go take part in buses and
// notifications over HTTP: a bus filter and a notifier's Prepare that ask a
// URL, so that a backend in any language can accept, enrich or reject what
// clients write to a bus, and make (or block) each listener's notification.
//
// Use Filter for halley.BusOptions.Filter, and Prepare for
// halley.NotifierOptions.Prepare or PrepareBatch for
// halley.NotifierOptions.PrepareBatch: Prepare asks about one listener per
// request, PrepareBatch about a batch of listeners per request. Each POSTs
// one JSON object per call and reads a JSON answer; docs/server.md
// ("Hooks") describes the protocol.
//
// # Payloads
//
// A payload travels as one of three fields, as in the client protocol: "json"
// holds it as is when it is a JSON text on one line, "data" as a string when
// it is other UTF-8 text, and "data64" in base64 otherwise. Answers may use
// any of the three.
//
// # Failures
//
// A filter fails closed: when its backend cannot be reached, times out or
// answers something unexpected, the write is rejected with the reason
// "filter_unavailable" and the cause is logged. A Prepare that fails returns
// an error, and the hub skips that listener (and logs it); a PrepareBatch
// that fails skips every listener of its batch.
//
// # Concurrency
//
// The functions returned are safe for concurrent use. Each call is one HTTP
// request, bounded by the client's timeout and by the caller's context.
package hooks
