// Package brokertest checks that a broker.Broker honours the contract
// documented in package broker.
//
// Use Run from a test of the implementation, passing a function that makes a
// fresh broker; it runs one subtest per promise of the contract. Use
// RunNodes as well for a broker whose nodes share a backend: it checks what
// two nodes see of each other (offsets under concurrent publishers on both,
// delivery, history and broadcasts across). Use Recorder as the
// broker.Handler of other tests that need to see and wait for what a broker
// delivers.
//
// # Shared backends
//
// Every subtest names its streams and topics with a random prefix, so one
// backend (a Redis server) can serve every subtest, and several test runs,
// without their data mixing. Subtests do not run in parallel.
//
// # Asynchronous delivery
//
// A broker may deliver after Publish returns (PublishResult.Delivered is
// then -1). The suite therefore waits for the handler instead of assuming it
// ran inside Publish; it compares Delivered with what the handler returned
// only when Delivered is not -1. Waits never poll: they block on a
// notification from the Recorder and fail the test after WaitTimeout.
package brokertest
