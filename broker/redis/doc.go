// Package redis is a Halley broker over Redis, for many Halley nodes that
// share one Redis (a single server, or a primary found and followed
// through Redis Sentinel) and behave as one server.
//
// Use New with Options (whose zero value uses a Redis on 127.0.0.1:6379)
// and give the broker to the hub's Config. It passes broker/brokertest.
//
// # How it works
//
// Every stream has, under a hash tag of its own ({prefix:stream}, so each
// script works on Redis Cluster too), a hash with its offset counter, epoch
// and history byte count, and a list of its retained messages. Publish is
// one Lua script, one round trip: it takes the next offset, appends to and
// trims the history (by count and by bytes, the newest always kept), makes
// the epoch if there is none, and publishes the message on the stream's
// pub/sub channel. Any node answers History from the same data, so a
// client may resume from any node.
//
// Each node subscribes once per stream, whatever its number of readers,
// over one pub/sub connection. Because the script assigns and publishes in
// one step, a node receives a stream's messages in offset order; one that
// sees an offset jump (a message it missed) fills the hole from History
// before delivering, and drops duplicates, so its handler never sees a
// hole that History could fill.
//
// # Failures
//
// The client reconnects by itself. When the pub/sub connection breaks, the
// broker dials again with backoff and jitter, resubscribes every stream and
// catches each up from History: messages published meanwhile are
// delivered, in order, before new ones. When Redis lost a stream's data (a
// restart without persistence, an eviction) its counter and epoch are
// gone: the next Publish or the resubscription gives it a new epoch, which
// the node passes on with the next message, so readers learn that their
// positions mean nothing any more.
//
// A failover to a replica that was behind is a loss too, though the epoch
// survives it: the offsets after the replica's top would be given a second
// time. Every message carries its id and the previous message's, and each
// node remembers the id of the last message it delivered; a node that sees
// another message at that offset, or one that follows another one, gives
// the stream a new epoch (keeping what Redis retained), so no offset means
// two messages in one epoch.
//
// While Redis is unreachable, Publish, History and Subscribe fail with
// errors wrapping broker.ErrUnavailable. Ready (broker.Checker) checks the
// delivery path end to end: it publishes a probe on the node's own channel
// and waits to see it arrive, so a stalled subscription does not look
// healthy.
//
// # Running Redis for Halley
//
// A stream's keys do not expire: Remove deletes them. Run Redis with
// persistence (appendonly yes) for history and epochs to survive a
// restart, and with maxmemory-policy noeviction, since an evicted stream
// starts a new epoch. With Sentinel, set min-replicas-to-write 1 on the
// primary: a primary cut off from its replicas then refuses publications
// instead of taking ones that the failover will lose.
package redis
