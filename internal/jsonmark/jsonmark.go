// Package jsonmark carries a fact from the HTTP API to the hub: that the
// message it is about to write is one JSON value's compact text, which
// the API has just checked. The hub then sends it to clients as a frame's
// "json" field without checking it again (a message of unknown content
// is checked once, when its first frame is made).
//
// The hub sets Mark in its package's init; package httpapi calls it. It
// is internal: a caller that marked what is not JSON would break its
// clients' frames.
package jsonmark

import "context"

// Mark records that data, to be written next under ctx (a context of
// halley.Hub.DeferWrites), is one compact JSON value. The write that
// follows at once (halley.Channel.Write) consumes the mark, and it holds
// for those very bytes only; under any other context it does nothing.
var Mark = func(ctx context.Context, data []byte) {}
