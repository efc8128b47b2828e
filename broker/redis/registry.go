package redis

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/halleyhq/halley/broker"
	"github.com/redis/rueidis"
)

var _ broker.Registry = (*Broker)(nil)

// A table's keys share the hash tag {prefix:reg:table}:
//
//	{prefix:reg:table}      hash: key → flag byte ('c' counted, 'u' not)
//	                        then the record, for records without a TTL
//	{prefix:reg:table}:n    the number of counted records in the hash
//	{prefix:reg:table}:k:K  string: the record under K, for records with a
//	                        TTL (Redis expires it)
//
// A key has a record in at most one of the two forms: Claim checks both.

// claimScript stores a record unless the key has one, within the limit.
//
// KEYS: hash, count, ttl key. ARGV: record, ttl in ms (0: none), limit (0:
// none), counted ("1" or "0"), the key. Returns {0, found} when taken, {1} when
// stored, {2} at the limit.
var claimScript = rueidis.NewLuaScript(`
local h, n, k = KEYS[1], KEYS[2], KEYS[3]
local rec, ttl, limit, counted = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4] == '1'
local v = redis.call('HGET', h, ARGV[5])
if v then return {0, string.sub(v, 2)} end
v = redis.call('GET', k)
if v then return {0, v} end
if ttl > 0 then
  redis.call('SET', k, rec, 'PX', ttl)
  return {1}
end
if counted then
  if limit > 0 and tonumber(redis.call('GET', n) or '0') >= limit then return {2} end
  redis.call('INCR', n)
  redis.call('HSET', h, ARGV[5], 'c' .. rec)
else
  redis.call('HSET', h, ARGV[5], 'u' .. rec)
end
return {1}
`)

// lookupScript returns the record under a key, or false. KEYS: hash, ttl
// key. ARGV: the key.
var lookupScript = rueidis.NewLuaScript(`
local v = redis.call('HGET', KEYS[1], ARGV[1])
if v then return string.sub(v, 2) end
return redis.call('GET', KEYS[2])
`)

// releaseScript drops a record in either form. KEYS: hash, count, ttl key.
// ARGV: the key.
var releaseScript = rueidis.NewLuaScript(`
local v = redis.call('HGET', KEYS[1], ARGV[1])
if v then
  redis.call('HDEL', KEYS[1], ARGV[1])
  if string.sub(v, 1, 1) == 'c' then redis.call('DECR', KEYS[2]) end
end
redis.call('DEL', KEYS[3])
return 1
`)

type tableKeys struct{ hash, count, ttl string }

func (b *Broker) tableKeys(table, key string) tableKeys {
	tag := "{" + b.opts.Prefix + ":reg:" + table + "}"
	return tableKeys{hash: tag, count: tag + ":n", ttl: tag + ":k:" + key}
}

// Claim implements broker.Registry with one script call.
func (b *Broker) Claim(ctx context.Context, table, key string, rec []byte, opts broker.ClaimOptions) ([]byte, error) {
	if err := b.usable(ctx); err != nil {
		return nil, b.fail("claim", table+"/"+key, err)
	}
	k := b.tableKeys(table, key)
	counted := "1"
	if opts.Uncounted || opts.TTL > 0 {
		counted = "0"
	}
	args := []string{rueidis.BinaryString(rec), strconv.FormatInt(opts.TTL.Milliseconds(), 10), strconv.Itoa(max(opts.Limit, 0)), counted, key}
	if opts.TTL > 0 && opts.TTL < time.Millisecond {
		args[1] = "1"
	}
	arr, err := claimScript.Exec(ctx, b.client, []string{k.hash, k.count, k.ttl}, args).ToArray()
	if err != nil {
		return nil, b.fail("claim", table+"/"+key, err)
	}
	if len(arr) == 0 {
		return nil, fmt.Errorf("redis broker: claim %q: empty answer", key)
	}
	code, err := arr[0].AsInt64()
	if err != nil {
		return nil, fmt.Errorf("redis broker: claim %q: %w", key, err)
	}
	switch code {
	case 1:
		return rec, nil
	case 2:
		return nil, fmt.Errorf("redis broker: claim %q in %s: %w (%d)", key, table, broker.ErrLimit, opts.Limit)
	}
	if len(arr) < 2 {
		return nil, fmt.Errorf("redis broker: claim %q: short answer", key)
	}
	found, err := arr[1].AsBytes()
	if err != nil {
		return nil, fmt.Errorf("redis broker: claim %q: %w", key, err)
	}
	return found, fmt.Errorf("redis broker: claim %q in %s: %w", key, table, broker.ErrTaken)
}

// Lookup implements broker.Registry.
func (b *Broker) Lookup(ctx context.Context, table, key string) ([]byte, error) {
	if err := b.usable(ctx); err != nil {
		return nil, b.fail("lookup", table+"/"+key, err)
	}
	k := b.tableKeys(table, key)
	v, err := lookupScript.Exec(ctx, b.client, []string{k.hash, k.ttl}, []string{key}).AsBytes()
	if rueidis.IsRedisNil(err) {
		return nil, fmt.Errorf("redis broker: lookup %q in %s: %w", key, table, broker.ErrNotFound)
	}
	if err != nil {
		return nil, b.fail("lookup", table+"/"+key, err)
	}
	return v, nil
}

// Release implements broker.Registry.
func (b *Broker) Release(ctx context.Context, table, key string) error {
	if err := b.usable(ctx); err != nil {
		return b.fail("release", table+"/"+key, err)
	}
	k := b.tableKeys(table, key)
	if err := releaseScript.Exec(ctx, b.client, []string{k.hash, k.count, k.ttl}, []string{key}).Error(); err != nil {
		return b.fail("release", table+"/"+key, err)
	}
	return nil
}

// Refresh implements broker.Registry: one PEXPIRE.
func (b *Broker) Refresh(ctx context.Context, table, key string, ttl time.Duration) error {
	if err := b.usable(ctx); err != nil {
		return b.fail("refresh", table+"/"+key, err)
	}
	k := b.tableKeys(table, key)
	ok, err := b.client.Do(ctx, b.client.B().Pexpire().Key(k.ttl).Milliseconds(max(ttl.Milliseconds(), 1)).Build()).AsBool()
	if err != nil {
		return b.fail("refresh", table+"/"+key, err)
	}
	if !ok {
		return fmt.Errorf("redis broker: refresh %q in %s: %w", key, table, broker.ErrNotFound)
	}
	return nil
}

// Count implements broker.Registry.
func (b *Broker) Count(ctx context.Context, table string) (int, error) {
	if err := b.usable(ctx); err != nil {
		return 0, b.fail("count", table, err)
	}
	k := b.tableKeys(table, "")
	n, err := b.client.Do(ctx, b.client.B().Get().Key(k.count).Build()).AsInt64()
	if rueidis.IsRedisNil(err) {
		return 0, nil
	}
	if err != nil {
		return 0, b.fail("count", table, err)
	}
	return int(n), nil
}

// epochScript returns the registry's epoch, setting it to ARGV[1] when it
// has none. KEYS: the epoch key.
var epochScript = rueidis.NewLuaScript(`
local e = redis.call('GET', KEYS[1])
if e then return e end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]
`)

// Epoch implements broker.Registry with one script call.
func (b *Broker) Epoch(ctx context.Context) (string, error) {
	if err := b.usable(ctx); err != nil {
		return "", b.fail("registry epoch", "", err)
	}
	key := "{" + b.opts.Prefix + ":reg}:epoch"
	e, err := epochScript.Exec(ctx, b.client, []string{key}, []string{newEpoch() + newEpoch()}).ToString()
	if err != nil {
		return "", b.fail("registry epoch", "", err)
	}
	return e, nil
}

// putScript replaces a record by an uncounted one, keeping the count right.
// KEYS: hash, count. ARGV: the key, the record.
var putScript = rueidis.NewLuaScript(`
local v = redis.call('HGET', KEYS[1], ARGV[1])
if v and string.sub(v, 1, 1) == 'c' then redis.call('DECR', KEYS[2]) end
redis.call('HSET', KEYS[1], ARGV[1], 'u' .. ARGV[2])
return 1
`)

// Put implements broker.Registry with one call.
func (b *Broker) Put(ctx context.Context, table, key string, rec []byte, ttl time.Duration) error {
	if err := b.usable(ctx); err != nil {
		return b.fail("put", table+"/"+key, err)
	}
	k := b.tableKeys(table, key)
	if ttl > 0 {
		cmd := b.client.B().Set().Key(k.ttl).Value(rueidis.BinaryString(rec)).PxMilliseconds(max(ttl.Milliseconds(), 1)).Build()
		if err := b.client.Do(ctx, cmd).Error(); err != nil {
			return b.fail("put", table+"/"+key, err)
		}
		return nil
	}
	if err := putScript.Exec(ctx, b.client, []string{k.hash, k.count}, []string{key, rueidis.BinaryString(rec)}).Error(); err != nil {
		return b.fail("put", table+"/"+key, err)
	}
	return nil
}

// All implements broker.Registry: one HGETALL.
func (b *Broker) All(ctx context.Context, table string) (map[string][]byte, error) {
	if err := b.usable(ctx); err != nil {
		return nil, b.fail("all", table, err)
	}
	k := b.tableKeys(table, "")
	m, err := b.client.Do(ctx, b.client.B().Hgetall().Key(k.hash).Build()).AsStrMap()
	if err != nil {
		return nil, b.fail("all", table, err)
	}
	out := make(map[string][]byte, len(m))
	for key, v := range m {
		if len(v) > 0 {
			out[key] = []byte(v[1:])
		}
	}
	return out, nil
}
