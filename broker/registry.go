package broker

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned by a Registry for a key it has no record of.
var ErrNotFound = errors.New("broker: no such record")

// ErrTaken is returned by Registry.Claim for a key that has a record
// already.
var ErrTaken = errors.New("broker: key taken")

// ErrLimit is returned by Registry.Claim when the table holds
// ClaimOptions.Limit counted records already.
var ErrLimit = errors.New("broker: table full")

// ClaimOptions are per-call knobs for Registry.Claim.
type ClaimOptions struct {
	// TTL, when positive, makes the record expire unless Refresh renews it
	// in time. Records with a TTL are never counted.
	TTL time.Duration
	// Limit, when positive, makes Claim fail with ErrLimit when the table
	// already holds that many counted records.
	Limit int
	// Uncounted keeps the record out of Count and of every Limit.
	Uncounted bool
}

// Registry is implemented by brokers shared by several nodes (broker/redis)
// to keep the records that make those nodes one server: which channels,
// buses and notifiers exist (so that names are unique across the cluster and
// a channel made on one node is found on every other) and which sessions
// are live (so that any node serves any client). A record is a small opaque
// value under a key in a named table. A hub uses it when its broker has it,
// and keeps everything on its own node otherwise (broker/memory).
//
// All methods are safe for concurrent use, and wrap ErrUnavailable when
// the backend cannot be reached.
type Registry interface {
	// Claim stores rec under key in table unless the key has a record. It
	// returns ErrTaken, with the record found, when it has one, and
	// ErrLimit when the table is full (see ClaimOptions).
	Claim(ctx context.Context, table, key string, rec []byte, opts ClaimOptions) (found []byte, err error)
	// Lookup returns the record under key in table, or ErrNotFound.
	Lookup(ctx context.Context, table, key string) ([]byte, error)
	// Release drops the record under key in table; dropping a record that
	// is not there is not an error.
	Release(ctx context.Context, table, key string) error
	// Refresh renews the TTL of the record under key, or fails with
	// ErrNotFound when it expired or never was.
	Refresh(ctx context.Context, table, key string, ttl time.Duration) error
	// Count returns the number of counted records in table.
	Count(ctx context.Context, table string) (int, error)
	// Put stores rec under key in table, replacing any record there; the
	// record is not counted. A positive ttl makes it expire (such records
	// are not listed by All). Nodes use it for what they report of
	// themselves, and for what they keep of a session.
	Put(ctx context.Context, table, key string, rec []byte, ttl time.Duration) error
	// All returns every record of table that has no TTL, by key.
	All(ctx context.Context, table string) (map[string][]byte, error)
	// Epoch returns the id of the registry's present life, making one if
	// there is none: it changes when the backend lost its records (a
	// Redis restarted without persistence, a failover to a replica that
	// was behind), so that each node records again what it holds.
	Epoch(ctx context.Context) (string, error)
}
