import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { Client, type ClientOptions, type Gap, type HalleyError, type Message, type State } from '../src/index.js';
import { FakeES, FakeWS, fakeFetch, until } from './fakes.js';

const clients: Client[] = [];
function newClient(o: ClientOptions = {}) {
  const f = fakeFetch();
  const c = new Client({
    url: 'http://h',
    WebSocket: FakeWS as unknown as typeof WebSocket,
    EventSource: FakeES as unknown as typeof EventSource,
    fetch: f.fetch,
    backoffBase: 1,
    backoffMax: 2,
    ...o,
  });
  const states: State[] = [];
  const errors: HalleyError[] = [];
  c.on('state', (s) => states.push(s));
  c.on('error', (e) => errors.push(e));
  clients.push(c);
  return { c, f, states, errors };
}
afterEach(() => {
  clients.splice(0).forEach((c) => c.close());
  FakeWS.all = [];
  FakeES.all = [];
});

const hello = { type: 'hello', session: 'S1', version: 1 };
const sub = (channel: string, offset: number, epoch = 'E') => ({ type: 'subscribed', channel, kind: 'broadcast', offset, epoch });
const msg = (channel: string, offset: number, data: string) => ({ type: 'msg', channel, offset, data });

test('WebSocket: subscribes after hello, delivers, drops duplicates, resumes by position', async () => {
  const { c, states } = newClient();
  const got: string[] = [];
  const news = c.channel<string>('news');
  news.on('message', (m) => got.push(`${m.offset}:${m.value}`));
  const feed = c.channel('feed', { last: 3 });
  await until(() => FakeWS.all.length === 1);
  const ws = FakeWS.last();
  assert.equal(ws.url, 'ws://h/ws?session=new');
  assert.deepEqual(ws.sent, [], 'nothing before hello');
  ws.server(hello);
  assert.deepEqual(ws.sent, [
    { type: 'subscribe', channel: 'news' },
    { type: 'subscribe', channel: 'feed', last: 3 },
  ]);
  assert.deepEqual(c.state, { name: 'connected', transport: 'ws' });
  ws.server(sub('news', 41), msg('news', 42, 'a'), msg('news', 43, 'b'), msg('news', 43, 'b again'));
  assert.deepEqual(got, ['42:a', '43:b']);
  assert.deepEqual(news.position, { offset: 43, epoch: 'E' });
  assert.equal(news.kind, 'broadcast');
  assert.equal(c.cursor(), 'news:43:E');

  ws.drop(1006);
  assert.equal(c.state.name, 'reconnecting');
  await until(() => FakeWS.all.length === 2, 'a new WebSocket');
  const ws2 = FakeWS.last();
  assert.equal(ws2.url, 'ws://h/ws?session=S1');
  ws2.server(hello);
  assert.deepEqual(ws2.sent, [
    { type: 'subscribe', channel: 'news', after: 43, epoch: 'E' },
    { type: 'subscribe', channel: 'feed', last: 3 },
  ]);
  ws2.server(sub('news', 43), msg('news', 43, 'dup'), msg('news', 44, 'c'));
  assert.deepEqual(got, ['42:a', '43:b', '44:c']);
  assert.equal(c.stats.reconnects, 1);
  assert.equal(c.stats.resumes, 1);
  assert.deepEqual(
    states.map((s) => s.name),
    ['connecting', 'connected', 'reconnecting', 'connecting', 'connected'],
  );
  feed.close();
  assert.deepEqual(ws2.sent.at(-1), { type: 'unsubscribe', channel: 'feed' });
});

test('gaps and ends are events; for await yields them in order and stops at the end', async () => {
  const { c } = newClient();
  const s = c.channel<string>('news');
  const seen: string[] = [];
  const loop = (async () => {
    for await (const e of s) seen.push(e.type === 'message' ? `m${e.offset}` : `${e.type}:${e.reason}`);
  })();
  await until(() => FakeWS.all.length === 1);
  FakeWS.last().server(
    hello,
    sub('news', 1),
    msg('news', 2, 'x'),
    { type: 'gap', channel: 'news', reason: 'channel_full', offset: 9, epoch: 'E' },
    msg('news', 10, 'y'),
    { type: 'ended', channel: 'news', reason: 'channel_ended' },
  );
  await loop;
  assert.deepEqual(seen, ['m2', 'gap:channel_full', 'm10', 'end:channel_ended']);
  assert.equal(s.ended?.reason, 'channel_ended');
  assert.equal(s.position, undefined);
});

test('malformed frames never throw out of the client; they are reported and skipped', async () => {
  const { c, errors } = newClient();
  const got: unknown[] = [];
  c.channel('news').on('message', (m) => got.push(m.value));
  await until(() => FakeWS.all.length === 1);
  const ws = FakeWS.last();
  ws.server(hello, sub('news', 0));
  ws.server('{nope', '{"type":"msg","channel":"news","offset":"x","data":"bad"}', msg('news', 1, 'good'), '[]');
  ws.onmessage!({ data: new ArrayBuffer(4) });
  ws.server('{"type":"written","channel":"c","offset":1,"ref":"unknown"}', '{"type":"gap","channel":"other","reason":"channel_full","offset":3,"epoch":"E"}');
  assert.deepEqual(got, ['good']);
  assert.equal(errors.filter((e) => e.reason === 'bad_frame').length, 2);
  assert.equal(c.state.name, 'connected');
});

test('a listener that throws does not break the client', async () => {
  const { c } = newClient();
  const got: unknown[] = [];
  const s = c.channel('news');
  s.on('message', () => {
    throw new Error('app bug');
  });
  s.on('message', (m) => got.push(m.value));
  const uncaught: unknown[] = [];
  (globalThis as any).reportError = (e: unknown) => uncaught.push(e);
  await until(() => FakeWS.all.length === 1);
  FakeWS.last().server(hello, sub('news', 0), msg('news', 1, 'a'), msg('news', 2, 'b'));
  delete (globalThis as any).reportError;
  assert.equal(uncaught.length, 2, 'reported on their own');
  assert.deepEqual(got, ['a', 'b']);
});

test('bus writes: batched, in order, answered with their offsets; refusals reject', async () => {
  const { c } = newClient({ batchSize: 3, batchDelay: 60_000 });
  const bus = c.bus<{ text: string }>('chat');
  await until(() => FakeWS.all.length === 1);
  const ws = FakeWS.last();
  ws.server(hello, sub('chat', 0));
  const ws0 = ws.sent.length;
  const w = [1, 2].map((i) => bus.write({ text: 't' + i }));
  await new Promise((r) => setImmediate(r));
  assert.equal(ws.sent.length, ws0, 'held for the batch');
  const w3 = bus.write({ text: 't3' });
  const frames = ws.sent.slice(ws0);
  assert.deepEqual(frames.map((f) => [f.type, f.json.text]), [['write', 't1'], ['write', 't2'], ['write', 't3']]);
  ws.server(
    { type: 'written', channel: 'chat', offset: 5, ref: frames[0].ref },
    { type: 'error', reason: 'rejected', message: 'too long', ref: frames[1].ref },
    { type: 'written', channel: 'chat', offset: 6, ref: frames[2].ref },
  );
  assert.equal(await w[0], 5);
  await assert.rejects(w[1], (e: HalleyError) => e.reason === 'rejected' && /too long/.test(e.message));
  assert.equal(await w3, 6);
  // A write in flight when the connection drops is refused, not lost silently.
  const w4 = bus.write({ text: 't4' });
  await until(() => ws.sent.length === ws0 + 3 || true);
  c['_flush']();
  ws.drop();
  await assert.rejects(w4, (e: HalleyError) => e.reason === 'disconnected');
});

test('fallback: a WebSocket that never says hello gives way to SSE, which keeps the positions', async () => {
  const { c, f } = newClient({ connectTimeout: 50 });
  const got: string[] = [];
  c.channel<string>('news', { position: { offset: 41, epoch: 'E' } }).on('message', (m) => got.push(m.value));
  await until(() => FakeWS.all.length === 1);
  FakeWS.last().drop(1006); // blocked: closed before hello
  await until(() => FakeES.all.length === 1, 'an EventSource');
  const es = FakeES.last();
  assert.equal(es.url, 'http://h/sse?cursor=news%3A41%3AE&session=new');
  assert.equal(c.state.name, 'connecting');
  es.server(hello);
  assert.deepEqual(c.state, { name: 'connected', transport: 'sse' });
  es.server(sub('news', 41));
  es.server(msg('news', 42, 'over SSE'));
  assert.deepEqual(got, ['over SSE']);
  // WebSocket is now known broken: the next connection is SSE again.
  es.fail();
  await until(() => FakeES.all.length === 2);
  assert.equal(FakeWS.all.length, 1);
  assert.match(FakeES.last().url, /cursor=news%3A42%3AE/);
  assert.equal(f.reqs.length, 0, 'every channel had a position: no anchoring poll');
});

test('fallback: an SSE stream held by a buffering proxy gives way to long-poll', async () => {
  const { c, f } = newClient({ transport: 'auto', connectTimeout: 30 });
  c['_broken'].add('ws');
  const got: string[] = [];
  c.channel<string>('news').on('message', (m) => got.push(m.value));
  // SSE first anchors the channel with a poll that answers at once.
  const a = await f.nth(0);
  assert.equal(a.url, 'http://h/poll');
  assert.deepEqual(a.body, { channels: ['news'], last: 0 });
  a.answer(200, { session: 'S1', frames: [sub('news', 5)] }, { 'Halley-Session': 'S1' });
  await until(() => FakeES.all.length === 1);
  // …and never says hello: the stream is held. Long-poll takes over.
  const p = await f.nth(1);
  assert.ok(FakeES.last().closed);
  assert.deepEqual(p.body, { channels: [], cursor: 'news:5:E', last: 0 });
  assert.equal(p.headers['Halley-Session'], 'S1');
  p.answer(200, { session: 'S1', cursor: 'news:6:E', frames: [msg('news', 6, 'polled')] });
  await until(() => got.length === 1);
  assert.deepEqual(c.state, { name: 'connected', transport: 'poll' });
  const p2 = await f.nth(2);
  assert.deepEqual(p2.body, { channels: [], cursor: 'news:6:E', last: 0 });
});

test('long-poll: a server refusal with Retry-After is honoured; a new subscription re-polls at once', async () => {
  const { c, f, states } = newClient({ transport: 'poll', backoffMax: 1 });
  c.channel('a');
  const p0 = await f.nth(0);
  p0.answer(503, { error: 'deactivated' }, { 'Retry-After': '0' });
  await until(() => states.some((s) => s.name === 'reconnecting'));
  assert.deepEqual(states.find((s) => s.name === 'reconnecting'), { name: 'reconnecting', attempt: 1, delay: 1, reason: 'deactivated' });
  const p1 = await f.nth(1);
  p1.answer(200, { session: 'S', frames: [sub('a', 3)] });
  const p2 = await f.nth(2);
  c.channel('b', { last: 2 });
  assert.ok(await until(() => p2.signal?.aborted).then(() => true));
  const p3 = await f.nth(3);
  assert.deepEqual(p3.body, { channels: ['b'], cursor: 'a:3:E', last: 2 });
});

test('retry after retry, with backoff attempts growing, and a reset once connected', async () => {
  const { c, f, states } = newClient({ transport: 'poll', backoffBase: 1, backoffMax: 4 });
  c.channel('a');
  for (let i = 0; i < 4; i++) (await f.nth(i)).fail();
  await until(() => states.filter((s) => s.name === 'reconnecting').length === 4);
  assert.deepEqual(
    states.filter((s) => s.name === 'reconnecting').map((s) => (s as any).attempt),
    [1, 2, 3, 4],
  );
  (await f.nth(4)).answer(200, { session: 'S', frames: [sub('a', 0)] });
  (await f.nth(5)).fail();
  await until(() => states.filter((s) => s.name === 'reconnecting').length === 5);
  assert.equal((states.at(-1) as any).attempt, 1);
});

test('notifications over WebSocket: listen, deliver by key, unlisten', async () => {
  const { c } = newClient();
  const a = c.listen<{ by: string }>('docs', 'a');
  const got: string[] = [];
  a.on('notification', (n) => got.push(`${n.key}:${n.value.by}`));
  a.on('listening', (l) => got.push('listening on ' + l.channel));
  c.listen('docs', 'b').on('notification', () => got.push('b!'));
  await until(() => FakeWS.all.length === 1);
  const ws = FakeWS.last();
  ws.server(hello);
  const l = ws.sent.filter((f) => f.type === 'listen');
  assert.deepEqual(l.map((f) => f.key), ['a', 'b']);
  ws.server(
    { type: 'listening', notifier: 'docs', key: 'a', channel: 'N', ref: l[0].ref },
    sub('N', 0),
    { type: 'msg', channel: 'N', offset: 1, json: { notifier: 'docs', key: 'a', json: { by: 'ann' } } },
    { type: 'msg', channel: 'N', offset: 2, json: { notifier: 'docs', key: 'zzz', json: {} } },
    { type: 'msg', channel: 'N', offset: 3, json: 'not a notification' },
  );
  assert.deepEqual(got, ['listening on N', 'a:ann']);
  a.close();
  assert.deepEqual(ws.sent.at(-1), { type: 'unlisten', notifier: 'docs', key: 'a' });
  ws.server({ type: 'msg', channel: 'N', offset: 4, json: { notifier: 'docs', key: 'a', json: { by: 'late' } } });
  assert.deepEqual(got, ['listening on N', 'a:ann']);
  // The same session after a reconnection: the notification channel resumes by position.
  ws.drop();
  await until(() => FakeWS.all.length === 2);
  FakeWS.last().server(hello);
  assert.deepEqual(FakeWS.last().sent, [
    { type: 'subscribe', channel: 'N', after: 4, epoch: 'E' },
    { type: 'listen', notifier: 'docs', key: 'b', ref: FakeWS.last().sent[1].ref },
  ]);
});

test('a new session (the server forgot ours) listens again', async () => {
  const { c } = newClient();
  c.listen('docs', 'a');
  await until(() => FakeWS.all.length === 1);
  let ws = FakeWS.last();
  ws.server(hello);
  ws.server({ type: 'listening', notifier: 'docs', key: 'a', channel: 'N', ref: ws.sent[0].ref }, sub('N', 0));
  ws.drop();
  await until(() => FakeWS.all.length === 2);
  ws = FakeWS.last();
  ws.server({ type: 'hello', session: 'S2', version: 1 });
  assert.deepEqual(ws.sent.map((f) => f.type), ['listen']);
  assert.equal(c.session, 'S2');
});

test('tokens: asked at connect, refreshed over WebSocket before expiry, asked again after token_expired', async () => {
  let n = 0;
  const { c } = newClient({ getToken: () => 'tok' + ++n, refreshBefore: 60_000 });
  c.channel('news');
  await until(() => FakeWS.all.length === 1);
  const ws = FakeWS.last();
  assert.equal(ws.url, 'ws://h/ws?session=new&token=tok1');
  ws.server({ ...hello, expires: Math.floor(Date.now() / 1000) + 1 });
  await until(() => ws.sent.some((f) => f.type === 'refresh'), 'a refresh frame');
  const r = ws.sent.find((f) => f.type === 'refresh');
  assert.equal(r.token, 'tok2');
  ws.server({ type: 'refreshed', ref: r.ref, expires: Math.floor(Date.now() / 1000) + 3600 });
  ws.server({ type: 'close', reason: 'token_expired' });
  await until(() => FakeWS.all.length === 2);
  assert.equal(FakeWS.last().url, 'ws://h/ws?session=S1&token=tok3');
});

test('SSE: a token near its end makes the stream again with a new one, from the positions', async () => {
  let n = 0;
  const { c } = newClient({ transport: 'sse', getToken: () => 'tok' + ++n, refreshBefore: 60_000 });
  c.channel('news', { position: { offset: 3, epoch: 'E' } });
  await until(() => FakeES.all.length === 1);
  FakeES.last().server({ ...hello, expires: Math.floor(Date.now() / 1000) + 1 });
  FakeES.last().server(msg('news', 4, 'x'));
  await until(() => FakeES.all.length === 2, 'a new stream');
  assert.ok(FakeES.all[0].closed);
  assert.equal(FakeES.last().url, 'http://h/sse?cursor=news%3A4%3AE&session=S1&token=tok2');
});

test('latest: the last value, with change events; first: one message', async () => {
  const { c } = newClient();
  const l = c.latest<number>('counter');
  const seen: (number | undefined)[] = [];
  const stop = l.subscribe((v) => seen.push(v));
  const once = c.first<string>('lazy');
  await until(() => FakeWS.all.length === 1);
  const ws = FakeWS.last();
  ws.server(hello);
  assert.deepEqual(ws.sent[0], { type: 'subscribe', channel: 'counter', last: 1 });
  ws.server(sub('counter', 0), { type: 'msg', channel: 'counter', offset: 1, json: 7 }, { type: 'msg', channel: 'counter', offset: 2, json: 8 });
  stop();
  ws.server({ type: 'msg', channel: 'counter', offset: 3, json: 9 });
  assert.deepEqual(seen, [undefined, 7, 8]);
  assert.equal(l.get(), 9);
  ws.server(sub('lazy', 0), msg('lazy', 1, 'computed'));
  assert.equal((await once).value, 'computed');
  assert.deepEqual(ws.sent.at(-1), { type: 'unsubscribe', channel: 'lazy' });
});

test('hidden tab: polls less after the grace, back to the best transport when shown', async () => {
  const listeners: Record<string, () => void> = {};
  const doc = { visibilityState: 'visible', addEventListener: (k: string, f: () => void) => (listeners[k] = f), removeEventListener() {} };
  (globalThis as any).document = doc;
  try {
    const { c, f } = newClient({ hiddenGrace: 1, hiddenInterval: 60_000 });
    const activity: boolean[] = [];
    c.on('activity', (a) => activity.push(a));
    c.channel('news', { position: { offset: 1, epoch: 'E' } });
    await until(() => FakeWS.all.length === 1);
    FakeWS.last().server(hello);
    doc.visibilityState = 'hidden';
    listeners.visibilitychange();
    const p = await f.nth(0);
    assert.ok(FakeWS.last().closed);
    assert.deepEqual(activity, [false]);
    assert.equal(p.body.cursor, 'news:1:E');
    p.answer(200, { session: 'S1', frames: [] });
    await until(() => c.state.name === 'connected');
    assert.equal(f.reqs.length, 1, 'the hidden tab waits before its next poll');
    doc.visibilityState = 'visible';
    listeners.visibilitychange();
    await until(() => FakeWS.all.length === 2, 'a WebSocket again');
    assert.deepEqual(activity, [false, true]);
  } finally {
    delete (globalThis as any).document;
  }
});

test('close: final state, subscriptions end, writes refused', async () => {
  const { c } = newClient();
  const s = c.bus('chat');
  const ends: string[] = [];
  s.on('end', (e) => ends.push(e.reason));
  c.close();
  assert.deepEqual(c.state, { name: 'closed', reason: 'closed' });
  assert.deepEqual(ends, ['closed']);
  await assert.rejects(s.write(1), (e: HalleyError) => e.reason === 'closed');
  const gaps: Gap[] = [];
  s.on('gap', (g) => gaps.push(g));
  const m: Message[] = [];
  s.on('message', (x) => m.push(x));
  assert.equal(FakeWS.all.length, 0);
});

test('offline: waits the longest backoff, and the online event reconnects at once', async () => {
  const g = globalThis as any;
  const target = new EventTarget();
  g.addEventListener = target.addEventListener.bind(target);
  g.removeEventListener = target.removeEventListener.bind(target);
  Object.defineProperty(g, 'navigator', { value: { onLine: false }, configurable: true, writable: true });
  try {
    const { c, f, states } = newClient({ transport: 'poll', backoffMax: 60_000 });
    const seen: string[] = [];
    c.on('online', () => seen.push('online'));
    c.channel('a');
    (await f.nth(0)).fail();
    await until(() => c.state.name === 'reconnecting');
    assert.deepEqual(states.at(-1), { name: 'reconnecting', attempt: 1, delay: 60_000, reason: 'network' });
    g.navigator.onLine = true;
    target.dispatchEvent(new Event('online'));
    const p = await f.nth(1); // at once, not in a minute
    assert.deepEqual(seen, ['online']);
    p.answer(200, { session: 'S', frames: [sub('a', 0)] });
    await until(() => c.state.name === 'connected');
    c.close();
  } finally {
    delete g.addEventListener;
    delete g.removeEventListener;
    delete g.navigator;
  }
});

test('long-poll: a token refused (401 token_expired) is asked for again at once', async () => {
  let n = 0;
  const { c, f } = newClient({ transport: 'poll', getToken: () => 'tok' + ++n });
  c.channel('a', { position: { offset: 2, epoch: 'E' } });
  const p0 = await f.nth(0);
  assert.equal(p0.headers.Authorization, 'Bearer tok1');
  p0.answer(401, { error: 'token_expired' });
  const p1 = await f.nth(1);
  assert.equal(p1.headers.Authorization, 'Bearer tok2');
  assert.equal(p1.body.cursor, 'a:2:E');
  assert.equal(c.state.name, 'connecting', 'no backoff for the first refusal');
});

test('SSE: a channel added while streaming makes the stream again, anchored first', async () => {
  const { c, f } = newClient({ transport: 'sse' });
  c.channel('a', { position: { offset: 1, epoch: 'E' } });
  await until(() => FakeES.all.length === 1);
  FakeES.last().server(hello);
  c.channel('b', { last: 2 });
  const a = await f.nth(0);
  assert.ok(FakeES.all[0].closed);
  assert.deepEqual(a.body, { channels: ['b'], last: 2 });
  assert.equal(a.headers['Halley-Session'], 'S1');
  a.answer(200, { session: 'S1', frames: [sub('b', 5)] });
  await until(() => FakeES.all.length === 2);
  assert.equal(FakeES.last().url, 'http://h/sse?cursor=a%3A1%3AE%2Cb%3A5%3AE&session=S1');
});

test('presence: asked for in the subscribe frame, join and leave delivered to that subscription only, malformed ones dropped', async () => {
  const { c } = newClient();
  const seen: string[] = [];
  const room = c.channel('room', { presence: true });
  room.on('join', (e) => seen.push(`join:${e.user ?? ''}`));
  room.on('leave', (e) => seen.push(`leave:${e.user ?? ''}`));
  room.on('presence_lost', () => seen.push('lost'));
  const news = c.channel('news');
  news.on('join', () => seen.push('news join'));
  await until(() => FakeWS.all.length === 1);
  const ws = FakeWS.last();
  ws.server(hello);
  assert.deepEqual(ws.sent, [
    { type: 'subscribe', channel: 'room', presence: true },
    { type: 'subscribe', channel: 'news' },
  ]);
  ws.server(
    sub('room', 0),
    sub('news', 0),
    { type: 'join', channel: 'room', user: 'ann' },
    { type: 'join', channel: 'news', user: 'bob' },
    { type: 'join', channel: 'room' },
    { type: 'join', channel: 'room', user: 7 },
    { type: 'leave', channel: 'room', user: 'ann' },
    { type: 'presence_lost', channel: 'room' },
  );
  assert.deepEqual(seen, ['join:ann', 'join:', 'leave:ann', 'lost']);
});

test('presence: the query answers counts, and refusals reject with their reason', async () => {
  const { c, f } = newClient();
  const asked = c.presence('room');
  const r = await f.nth(0);
  assert.equal(r.url, 'http://h/presence?channel=room');
  assert.equal(r.headers['Halley-Session'], 'new');
  r.answer(200, { channel: 'room', connections: 3, sessions: 2, users: 2, presence: true, members: [{ user: 'ann', sessions: 1, connections: 1 }] });
  const p = await asked;
  assert.equal(p.connections, 3);
  assert.deepEqual(p.members, [{ user: 'ann', sessions: 1, connections: 1 }]);
  const refused = c.presence('secret');
  (await f.nth(1)).answer(403, { error: 'forbidden', message: 'no' });
  await assert.rejects(refused, (e: HalleyError) => e.reason === 'forbidden' && e.status === 403);
  const odd = c.presence('odd');
  (await f.nth(2)).answer(200, { channel: 'odd', connections: 'many' });
  await assert.rejects(odd, (e: HalleyError) => e.reason === 'http_200');
});
