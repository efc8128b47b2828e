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
//	{prefix:stream}:meta  hash: top (the offset counter), epoch, bytes
//	                      (the payload bytes of hist)
//	{prefix:stream}:hist  list of the retained payloads, oldest first; the
//	                      last one has offset top, so the i-th (from 0) has
//	                      top - LLEN + 1 + i
//	{prefix:stream}:msg   the pub/sub channel of its publications
//
// Counter and epoch live in one key so that they are lost together (an
// eviction, a restart without persistence) and never an offset restarts
// in an old epoch. A meta found without epoch starts a new life: a
// leftover history, which no longer matches the counter, is dropped then.

// publishScript gives the message the stream's next offset, appends it to
// the retained history trimmed to both bounds (the newest always kept),
// makes the epoch if the stream has none, and publishes the envelope
// "<offset> <epoch> <data>" on the stream's channel: one round trip.
//
// KEYS: meta, hist. ARGV: data, history size, history bytes (0: no bound),
// candidate epoch, channel ("" publishes nothing: tests use it to lose a
// message). Returns {offset, epoch}.
var publishScript = rueidis.NewLuaScript(`
local meta, hist = KEYS[1], KEYS[2]
local data, size, maxb = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local epoch = redis.call('HGET', meta, 'epoch')
if not epoch then
  epoch = ARGV[4]
  redis.call('DEL', hist)
  redis.call('HSET', meta, 'epoch', epoch, 'top', 0, 'bytes', 0)
end
local top = redis.call('HINCRBY', meta, 'top', 1)
if size <= 0 then
  redis.call('DEL', hist)
  redis.call('HSET', meta, 'bytes', 0)
else
  local n = redis.call('RPUSH', hist, data)
  local bytes = #data
  if n > 1 then
    bytes = bytes + tonumber(redis.call('HGET', meta, 'bytes') or '0')
  end
  while n > size or (maxb > 0 and bytes > maxb and n > 1) do
    bytes = bytes - #redis.call('LPOP', hist)
    n = n - 1
  end
  redis.call('HSET', meta, 'bytes', bytes)
end
if ARGV[5] ~= '' then
  redis.call('PUBLISH', ARGV[5], string.format('%d', top) .. ' ' .. epoch .. ' ' .. data)
end
return {top, epoch}
`)

// readScript reads, atomically, the top of a stream (offset and epoch), the
// offset of its oldest retained message and the retained messages after
// since. With a candidate epoch it makes the stream if it has none
// (Subscribe, and resubscription after Redis lost its data).
//
// KEYS: meta, hist. ARGV: since, limit (0: all, -1: none), the epoch the
// caller knows ("" none: when the stream has another, since counts as 0,
// the caller having missed the whole new life), candidate epoch ("": do not
// create). Returns {top, epoch, first, from, {payloads from offset from}};
// an unknown stream (not created) is {0, "", 1, 1, {}}.
var readScript = rueidis.NewLuaScript(`
local meta, hist = KEYS[1], KEYS[2]
local m = redis.call('HMGET', meta, 'epoch', 'top')
local epoch, top = m[1], tonumber(m[2] or '0')
if not epoch then
  if ARGV[4] == '' then return {0, '', 1, 1, {}} end
  epoch = ARGV[4]
  top = 0
  redis.call('DEL', hist)
  redis.call('HSET', meta, 'epoch', epoch, 'top', 0, 'bytes', 0)
end
local first = top - redis.call('LLEN', hist) + 1
local since, limit = tonumber(ARGV[1]), tonumber(ARGV[2])
if ARGV[3] ~= '' and ARGV[3] ~= epoch then since = 0 end
local from = math.max(since + 1, first)
local msgs = {}
if limit >= 0 and from <= top then
  local i, j = from - first, -1
  if limit > 0 then j = i + limit - 1 end
  msgs = redis.call('LRANGE', hist, i, j)
end
return {top, epoch, first, from, msgs}
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

// newEpoch returns a fresh epoch: 8 characters of 48 random bits, without
// spaces (the message envelope relies on it).
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
}

// read runs readScript on stream; see there for the arguments.
func (b *Broker) read(ctx context.Context, stream string, since uint64, limit int, known, candidate string) (readResult, error) {
	k := b.keys(stream)
	args := []string{strconv.FormatUint(since, 10), strconv.Itoa(limit), known, candidate}
	arr, err := readScript.Exec(ctx, b.client, []string{k.meta, k.hist}, args).ToArray()
	if err != nil {
		return readResult{}, err
	}
	if len(arr) != 5 {
		return readResult{}, fmt.Errorf("redis broker: read script answered %d values", len(arr))
	}
	var r readResult
	top, err1 := arr[0].AsInt64()
	epoch, err2 := arr[1].ToString()
	first, err3 := arr[2].AsInt64()
	from, err4 := arr[3].AsInt64()
	payloads, err5 := arr[4].AsStrSlice()
	for _, err := range []error{err1, err2, err3, err4, err5} {
		if err != nil {
			return readResult{}, fmt.Errorf("redis broker: read script: %w", err)
		}
	}
	r.pos = broker.Position{Offset: uint64(top), Epoch: epoch}
	r.first = uint64(first)
	if len(payloads) > 0 {
		r.msgs = make([]broker.Message, len(payloads))
		for i, p := range payloads {
			r.msgs[i] = broker.Message{Stream: stream, Offset: uint64(from) + uint64(i), Epoch: epoch, Data: []byte(p)}
		}
	}
	return r, nil
}
