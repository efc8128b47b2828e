import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkFrame, formatCursor, parseCursor, parseFrame, splitFrames, tokenExpiry } from '../src/frames.js';

test('parseFrame accepts the frames of the protocol', () => {
  const ok: [string, object][] = [
    ['{"type":"hello","session":"s1","version":1,"expires":1767312000}', { type: 'hello', session: 's1' }],
    ['{"type":"subscribed","channel":"news","kind":"broadcast","offset":41,"epoch":"E"}', { offset: 41 }],
    ['{"type":"msg","channel":"news","offset":42,"json":{"title":"hello"}}', { value: { title: 'hello' }, payload: 'json' }],
    ['{"type":"msg","channel":"news","offset":43,"data":"plain text"}', { value: 'plain text', payload: 'data' }],
    ['{"type":"msg","channel":"n","offset":1,"json":null}', { value: null, payload: 'json' }],
    ['{"type":"gap","channel":"news","reason":"channel_full","offset":7,"epoch":"E"}', { reason: 'channel_full' }],
    ['{"type":"ended","channel":"news","reason":"forbidden"}', { reason: 'forbidden' }],
    ['{"type":"error","reason":"rejected","ref":"w1"}', { message: '', ref: 'w1' }],
    ['{"type":"close","reason":"shutdown"}', { reason: 'shutdown' }],
    ['{"type":"written","channel":"chat","offset":7,"ref":"w1"}', { offset: 7 }],
    ['{"type":"listening","notifier":"docs","key":"42","channel":"n1","ref":"l1"}', { channel: 'n1' }],
    ['{"type":"refreshed","ref":"r1","expires":5}', { expires: 5 }],
  ];
  for (const [text, want] of ok) {
    const f = parseFrame(text);
    assert.ok(f, text);
    for (const [k, v] of Object.entries(want)) assert.deepEqual((f as any)[k], v, `${text}: ${k}`);
  }
  const b = parseFrame('{"type":"msg","channel":"b","offset":1,"data64":"AAEC/w=="}') as any;
  assert.deepEqual([...b.value], [0, 1, 2, 255]);
});

test('parseFrame refuses malformed frames without throwing', () => {
  const bad = [
    '',
    'not json',
    '{"type":"msg"',
    'null',
    '[1,2]',
    '"msg"',
    '42',
    '{}',
    '{"type":"nope"}',
    '{"type":"msg","channel":"n","offset":1}', // no payload
    '{"type":"msg","channel":"n","offset":-1,"data":"x"}',
    '{"type":"msg","channel":"n","offset":1.5,"data":"x"}',
    '{"type":"msg","channel":"n","offset":"1","data":"x"}',
    '{"type":"msg","channel":"n","offset":1e300,"data":"x"}',
    '{"type":"msg","channel":"","offset":1,"data":"x"}',
    '{"type":"msg","channel":7,"offset":1,"data":"x"}',
    '{"type":"msg","channel":"n","offset":1,"data64":"!!!"}',
    '{"type":"msg","channel":"n","offset":1,"data":5}',
    '{"type":"subscribed","channel":"n","offset":1,"epoch":"E"}', // no kind
    '{"type":"gap","channel":"n","reason":"channel_full","offset":1}', // no epoch
    '{"type":"hello","version":1}',
    '{"type":"hello","session":"s","version":1,"expires":"soon"}',
    '{"type":"error","reason":{"x":1}}',
    '{"type":"written","channel":"c","offset":1,"ref":5}',
    '{"type":"ended","channel":"n","reason":"' + 'x'.repeat(65) + '"}',
    '{"type":"msg","channel":"' + 'c'.repeat(2000) + '","offset":1,"data":"x"}',
    '{"type":"msg","channel":"n","offset":1,"data":"' + 'x'.repeat(5 << 20) + '"}',
    '{"__proto__":{"type":"close"},"reason":"x"}',
  ];
  for (const text of bad) assert.equal(parseFrame(text), undefined, text.slice(0, 80));
  assert.equal(parseFrame(undefined as unknown as string), undefined);
  assert.equal(checkFrame(undefined), undefined);
  assert.equal(checkFrame({ type: 'close' }), undefined);
});

test('splitFrames counts the bad lines and keeps the good ones', () => {
  const { frames, bad } = splitFrames(
    '{"type":"msg","channel":"n","offset":1,"data":"a"}\n{oops\n\n{"type":"msg","channel":"n","offset":2,"data":"b"}\r\n',
  );
  assert.deepEqual(frames.map((f: any) => f.value), ['a', 'b']);
  assert.equal(bad, 1);
  assert.deepEqual(splitFrames(new ArrayBuffer(3) as unknown as string), { frames: [], bad: 1 });
  assert.equal(splitFrames('{"type":"close","reason":"x"}\n'.repeat(10001)).bad, 1);
});

test('cursors: escaped ids round-trip, malformed entries are skipped', () => {
  const ps = new Map([
    ['news', { offset: 42, epoch: 'Xk3q' }],
    ['chat:room, 1', { offset: 7, epoch: '0aP9' }],
  ]);
  const text = formatCursor(ps);
  assert.equal(text, 'news:42:Xk3q,chat%3Aroom%2C%201:7:0aP9');
  assert.deepEqual(parseCursor(text), ps);
  assert.deepEqual(parseCursor('a+b:1:E'), new Map([['a b', { offset: 1, epoch: 'E' }]]));
  assert.deepEqual(parseCursor('nocolon,x:y:E,%zz:1:E,:1:E,ok:-1:E,ok:1.5:E,good:3:'), new Map([['good', { offset: 3, epoch: '' }]]));
  assert.equal(parseCursor(Array.from({ length: 300 }, (_, i) => `c${i}:1:E`).join(',')).size, 256);
});

test('tokenExpiry reads a JWT exp, and nothing else', () => {
  const b64 = (o: object) => btoa(JSON.stringify(o)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
  assert.equal(tokenExpiry(`${b64({ alg: 'HS256' })}.${b64({ exp: 1767312000, sub: 'a' })}.sig`), 1767312000);
  assert.equal(tokenExpiry(`x.${b64({ sub: 'a' })}.y`), undefined);
  assert.equal(tokenExpiry('opaque'), undefined);
  assert.equal(tokenExpiry('a.!!!.b'), undefined);
});
