package redis

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strconv"

	"github.com/halleyhq/halley/broker"
	"github.com/redis/rueidis"
)

// A stream's keys share the hash tag {prefix:stream}, so that each script,
// which touches one stream only, runs on Redis Cluster too:
//
//	{prefix:stream}:meta  hash: top (the offset counter), epoch, last (the
//	                      id of the message at top), bytes (the payload
//	                      bytes of hist)
//	{prefix:stream}:hist  list of the retained messages, oldest first, each
//	                      its id then its payload; the last one has offset
//	                      top, so the i-th (from 0) has top - LLEN + 1 + i
//	{prefix:stream}:msg   the pub/sub channel of its publications
//
// Counter and epoch live in one key so that they are lost together (an
// eviction, a restart without persistence) and never an offset restarts
// in an old epoch. A meta found without epoch starts a new life: a
// leftover history, which no longer matches the counter, is dropped then.
//
// Every message has an id: idLen random characters, drawn by the
// publisher, and carries the id of the message before it. A node remembers
// the id of the last message it delivered, so it can tell when Redis went
// back in time (a failover to a replica that was behind, a restart from an
// older snapshot) and gives offsets a second time in the same epoch: the
// next message follows another one, or after a reconnection Redis has
// another message at that offset, or none. The stream gets a new epoch
// then, so readers learn that their positions mean nothing any more.

// idLen is the length of an id and of an epoch (newEpoch).
const idLen = 8

// noID stands for the id before a stream's first message (or one the
// stream does not know): no id looks like it, '.' not being in newEpoch's
// alphabet.
const noID = "........"

// publishScript gives the message the stream's next offset, appends it to
// the retained history trimmed to both bounds (the newest always kept),
// makes the epoch if the stream has none, and publishes the envelope
// "<offset> <epoch> <previous id><id><data>" on the stream's channel: one
// round trip.
//
// KEYS: meta, hist. ARGV: data, history size, history bytes (0: no bound),
// the message's id (also the candidate epoch), channel ("" publishes
// nothing: tests use it to lose a message). Returns {offset, epoch}.
var publishScript = rueidis.NewLuaScript(`
local meta, hist = KEYS[1], KEYS[2]
local data, size, maxb, id = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local m = redis.call('HMGET', meta, 'epoch', 'last', 'bytes')
local epoch, prev, bytes = m[1], m[2], tonumber(m[3] or '0')
if not epoch then
  epoch, prev, bytes = id, false, 0
  redis.call('DEL', hist)
  redis.call('HSET', meta, 'epoch', epoch, 'top', 0, 'bytes', 0)
end
local top = redis.call('HINCRBY', meta, 'top', 1)
if size <= 0 then
  bytes = 0
  redis.call('DEL', hist)
else
  local n = redis.call('RPUSH', hist, id .. data)
  if n == 1 then
    bytes = #data
  else
    bytes = bytes + #data
  end
  while n > size or (maxb > 0 and bytes > maxb and n > 1) do
    bytes = bytes - (#redis.call('LPOP', hist) - #id)
    n = n - 1
  end
end
redis.call('HSET', meta, 'bytes', bytes, 'last', id)
if ARGV[5] ~= '' then
  redis.call('PUBLISH', ARGV[5], string.format('%d', top) .. ' ' .. epoch .. ' ' .. (prev or '` + noID + `') .. id .. data)
end
return {top, epoch}
`)

// readScript reads, atomically, the top of a stream (offset and epoch), the
// offset of its oldest retained message and the retained messages after
// since, and tells whether the stream went back in time from what the
// caller delivered: it has the caller's epoch but a top below since, or
// another message than the caller's at since.
//
// With a candidate epoch it makes the stream, empty at offset 0, when it
// has none (Subscribe, a resubscription after Redis lost its data), and
// gives it the candidate epoch when it went back. The retained messages
// are kept then, in the new epoch: they are what this Redis has, and
// readers of the new epoch get them all.
//
// KEYS: meta, hist. ARGV: since, limit (0: all, -1: none), the epoch the
// caller knows ("" none: when the stream has another, since counts as 0,
// the caller having missed the whole new life), candidate epoch ("": do not
// create), the id of the caller's message at since ("" unknown). Returns
// {top, epoch, first, from, {messages from offset from}, went back (0, 1),
// id of the message at top ("" unknown)}; an unknown stream (not created)
// is {0, "", 1, 1, {}, 0, ""}.
var readScript = rueidis.NewLuaScript(`
local meta, hist = KEYS[1], KEYS[2]
local since, limit, known, candidate, id = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5]
local m = redis.call('HMGET', meta, 'epoch', 'top', 'last')
local epoch, top, last = m[1], tonumber(m[2] or '0'), m[3]
local n = redis.call('LLEN', hist)
local back = 0
if epoch and epoch == known then
  if top < since then
    back = 1
  elseif id ~= '' and since > 0 then
    local there = false
    if since == top then
      there = last
    elseif since > top - n then
      there = string.sub(redis.call('LINDEX', hist, since - (top - n + 1)), 1, #id)
    end
    if there and there ~= id then back = 1 end
  end
end
if back == 1 and candidate ~= '' then
  epoch = candidate
  redis.call('HSET', meta, 'epoch', epoch)
elseif not epoch then
  if candidate == '' then return {0, '', 1, 1, {}, 0, ''} end
  epoch, top, n, last = candidate, 0, 0, false
  redis.call('DEL', hist)
  redis.call('HSET', meta, 'epoch', epoch, 'top', 0, 'bytes', 0)
end
local first = top - n + 1
if known ~= '' and known ~= epoch then since = 0 end
local from = math.max(since + 1, first)
local msgs = {}
if limit >= 0 and from <= top then
  local i, j = from - first, -1
  if limit > 0 then j = i + limit - 1 end
  msgs = redis.call('LRANGE', hist, i, j)
end
return {top, epoch, first, from, msgs, back, last or ''}
`)

// keys names a stream's keys and channel.
type keys struct {
	meta, hist, channel string
}

func (b *Broker) keys(stream string) keys {
	tag := "{" + b.opts.Prefix + ":" + stream + "}"
	return keys{meta: tag + ":meta", hist: tag + ":hist", channel: tag + ":msg"}
}

// streamOf returns the stream whose channel is ch.
func (b *Broker) streamOf(ch string) (string, bool) {
	pre, suf := len(b.opts.Prefix)+2, len("}:msg")
	if len(ch) < pre+suf || ch[0] != '{' || ch[1:pre-1] != b.opts.Prefix || ch[pre-1] != ':' || ch[len(ch)-suf:] != "}:msg" {
		return "", false
	}
	return ch[pre : len(ch)-suf], true
}

// newEpoch returns a fresh epoch or message id: idLen characters of 48
// random bits, without spaces (the message envelope relies on it).
func newEpoch() string {
	var p [6]byte
	_, _ = rand.Read(p[:])
	return base64.RawURLEncoding.EncodeToString(p[:])
}

// readResult is an answer of readScript.
type readResult struct {
	pos   broker.Position
	first uint64
	msgs  []broker.Message
	// ids are the ids of msgs.
	ids []string
	// back tells that the stream went back in time (and got a new epoch
	// when the read had a candidate).
	back bool
	// topID is the id of the message at pos.Offset, "" when unknown.
	topID string
}

// read runs readScript on stream; see there for the arguments.
func (b *Broker) read(ctx context.Context, stream string, since uint64, limit int, known, candidate, id string) (readResult, error) {
	k := b.keys(stream)
	args := []string{strconv.FormatUint(since, 10), strconv.Itoa(limit), known, candidate, id}
	arr, err := readScript.Exec(ctx, b.client, []string{k.meta, k.hist}, args).ToArray()
	if err != nil {
		return readResult{}, err
	}
	if len(arr) != 7 {
		return readResult{}, fmt.Errorf("redis broker: read script answered %d values", len(arr))
	}
	var r readResult
	top, err1 := arr[0].AsInt64()
	epoch, err2 := arr[1].ToString()
	first, err3 := arr[2].AsInt64()
	from, err4 := arr[3].AsInt64()
	entries, err5 := arr[4].AsStrSlice()
	back, err6 := arr[5].AsInt64()
	topID, err7 := arr[6].ToString()
	for _, err := range []error{err1, err2, err3, err4, err5, err6, err7} {
		if err != nil {
			return readResult{}, fmt.Errorf("redis broker: read script: %w", err)
		}
	}
	r.pos = broker.Position{Offset: uint64(top), Epoch: epoch}
	r.first = uint64(first)
	r.back, r.topID = back == 1, topID
	if len(entries) > 0 {
		r.msgs = make([]broker.Message, len(entries))
		r.ids = make([]string, len(entries))
		for i, e := range entries {
			id, data := splitEntry(e)
			r.ids[i] = id
			r.msgs[i] = broker.Message{Stream: stream, Offset: uint64(from) + uint64(i), Epoch: epoch, Data: []byte(data)}
		}
	}
	return r, nil
}

// splitEntry cuts a history entry into its id and payload.
func splitEntry(e string) (id, data string) {
	if len(e) < idLen {
		return "", e
	}
	return e[:idLen], e[idLen:]
}
