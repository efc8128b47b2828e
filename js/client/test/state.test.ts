import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoff, next, retryAfter, type State } from '../src/state.js';

test('the state machine: connected only from connecting on the same transport; closed is final', () => {
  let s: State = { name: 'connecting', transport: 'ws' };
  assert.equal(next(s, { to: 'connected', transport: 'sse' }), undefined);
  s = next(s, { to: 'connected', transport: 'ws' })!;
  assert.deepEqual(s, { name: 'connected', transport: 'ws' });
  assert.equal(next(s, { to: 'connected', transport: 'ws' }), undefined);
  s = next(s, { to: 'reconnecting', attempt: 1, delay: 250, reason: 'network' })!;
  assert.deepEqual(s, { name: 'reconnecting', attempt: 1, delay: 250, reason: 'network' });
  assert.equal(next(s, { to: 'connected', transport: 'ws' }), undefined);
  assert.equal(next(s, { to: 'reconnecting', attempt: 0, delay: 1, reason: 'x' }), undefined);
  assert.equal(next(s, { to: 'reconnecting', attempt: 2, delay: NaN, reason: 'x' }), undefined);
  s = next(s, { to: 'connecting', transport: 'poll' })!;
  s = next(s, { to: 'closed', reason: 'closed' })!;
  assert.deepEqual(s, { name: 'closed', reason: 'closed' });
  for (const step of [{ to: 'connecting', transport: 'ws' }, { to: 'closed', reason: 'again' }] as const) {
    assert.equal(next(s, step), undefined);
  }
});

test('backoff: full jitter under an exponential bound, capped, at least the advice', () => {
  const bounds = [1, 2, 3, 4, 5, 6, 7, 40].map((a) => backoff(a, 500, 30000, () => 0.999999));
  assert.deepEqual(bounds, [499, 999, 1999, 3999, 7999, 15999, 29999, 29999]);
  assert.equal(backoff(3, 500, 30000, () => 0), 1, 'never zero');
  assert.equal(backoff(1, 500, 30000, () => 0.5), 250);
  assert.equal(backoff(1, 500, 30000, () => NaN), 250, 'a bad random number is not trusted');
  assert.equal(backoff(1, 500, 30000, () => 0.1, 5000), 5000, 'Retry-After wins when longer');
  const seen = new Set(Array.from({ length: 200 }, () => backoff(10, 500, 30000, Math.random)));
  assert.ok(seen.size > 100, 'jittered');
  for (const d of seen) assert.ok(d >= 1 && d <= 30000);
});

test('retryAfter: seconds or a date, bounded', () => {
  assert.equal(retryAfter('3'), 3000);
  assert.equal(retryAfter(null), 0);
  assert.equal(retryAfter('soon'), 0);
  assert.equal(retryAfter(new Date(10_000 + 5000).toUTCString(), 10_000), 5000);
  assert.equal(retryAfter(new Date(0).toUTCString(), 10_000), 0);
});
