// Frames of the Halley protocol (docs/protocol.md), parsed defensively:
// whatever the server sends, parsing returns a checked frame or undefined,
// and never throws.

/** A payload as it came: a JSON value, a text, or bytes. */
export type Payload = { json: unknown } | { data: string } | { data64: Uint8Array };

export type Frame =
  | { type: 'hello'; session: string; version: number; expires?: number }
  | { type: 'subscribed'; channel: string; kind: string; offset: number; epoch: string }
  | { type: 'msg'; channel: string; offset: number; value: unknown; payload: 'json' | 'data' | 'data64' }
  | { type: 'gap'; channel: string; reason: string; offset: number; epoch: string }
  | { type: 'join' | 'leave'; channel: string; user?: string }
  | { type: 'presence_lost'; channel: string }
  | { type: 'ended'; channel: string; reason: string }
  | { type: 'unsubscribed'; channel: string }
  | { type: 'error'; reason: string; message: string; ref?: string }
  | { type: 'close'; reason: string }
  | { type: 'written'; channel: string; offset: number; ref?: string }
  | { type: 'listening'; notifier: string; key: string; channel: string; ref?: string }
  | { type: 'unlistened'; notifier: string; key: string; ref?: string }
  | { type: 'refreshed'; expires?: number; ref?: string };

/** The largest frame the client parses (a 1 MiB message as base64, and room). */
export const MAX_FRAME = 4 << 20;
/** The most frames one WebSocket message or poll answer may hold. */
export const MAX_FRAMES = 10000;

const str = (v: unknown, max: number): v is string => typeof v === 'string' && v.length <= max;
const id = (v: unknown): v is string => str(v, 1024) && v !== '';
const off = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const optRef = (v: unknown) => v === undefined || str(v, 256);
const optTime = (v: unknown) => v === undefined || (typeof v === 'number' && Number.isFinite(v));

/** decode64 returns the bytes of standard base64, or undefined. */
export function decode64(s: string): Uint8Array | undefined {
  try {
    const b = atob(s);
    const out = new Uint8Array(b.length);
    for (let i = 0; i < b.length; i++) out[i] = b.charCodeAt(i);
    return out;
  } catch {
    return undefined;
  }
}

/**
 * payloadOf returns the value a message-like object carries in `json`,
 * `data` or `data64`, or undefined (with ok false) when it has none.
 */
export function payloadOf(o: Record<string, unknown>): [ok: boolean, value: unknown, kind: 'json' | 'data' | 'data64'] {
  if ('json' in o) return [true, o.json, 'json'];
  if (typeof o.data === 'string') return [true, o.data, 'data'];
  if (typeof o.data64 === 'string') {
    const b = decode64(o.data64);
    return [b !== undefined, b, 'data64'];
  }
  return [false, undefined, 'json'];
}

/** parseFrame checks one frame's text; it returns undefined if malformed. */
export function parseFrame(text: string): Frame | undefined {
  if (typeof text !== 'string' || text.length > MAX_FRAME) return undefined;
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    return undefined;
  }
  return checkFrame(o);
}

/** checkFrame checks an already decoded frame (poll answers hold objects). */
export function checkFrame(o: unknown): Frame | undefined {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return undefined;
  const f = o as Record<string, unknown>;
  const { channel: ch, offset, epoch, reason, ref } = f;
  switch (f.type) {
    case 'hello':
      return str(f.session, 1024) && typeof f.version === 'number' && optTime(f.expires) ? (f as Frame) : undefined;
    case 'subscribed':
      return id(ch) && str(f.kind, 64) && off(offset) && str(epoch, 256) ? (f as Frame) : undefined;
    case 'gap':
      return id(ch) && str(reason, 64) && off(offset) && str(epoch, 256) ? (f as Frame) : undefined;
    case 'msg': {
      if (!id(ch) || !off(offset)) return undefined;
      const [ok, value, payload] = payloadOf(f);
      return ok ? { type: 'msg', channel: ch, offset, value, payload } : undefined;
    }
    case 'ended':
      return id(ch) && str(reason, 64) ? (f as Frame) : undefined;
    case 'unsubscribed':
      return id(ch) ? (f as Frame) : undefined;
    case 'error':
      return str(reason, 64) && optRef(ref)
        ? { type: 'error', reason, message: str(f.message, 4096) ? f.message : '', ref: ref as string | undefined }
        : undefined;
    case 'close':
      return str(reason, 64) ? (f as Frame) : undefined;
    case 'written':
      return id(ch) && off(offset) && optRef(ref) ? (f as Frame) : undefined;
    case 'listening':
      return id(f.notifier) && str(f.key, 1024) && id(ch) && optRef(ref) ? (f as Frame) : undefined;
    case 'unlistened':
      return id(f.notifier) && str(f.key, 1024) && optRef(ref) ? (f as Frame) : undefined;
    case 'refreshed':
      return optTime(f.expires) && optRef(ref) ? (f as Frame) : undefined;
    case 'join':
    case 'leave':
      return id(ch) && (f.user === undefined || str(f.user, 1024)) ? { type: f.type, channel: ch, user: f.user } : undefined;
    case 'presence_lost':
      return id(ch) ? { type: 'presence_lost', channel: ch } : undefined;
  }
  return undefined;
}

/**
 * splitFrames parses a WebSocket message: frames joined by LF. Malformed
 * frames are counted in bad, never thrown.
 */
export function splitFrames(text: string): { frames: Frame[]; bad: number } {
  const frames: Frame[] = [];
  let bad = 0;
  if (typeof text !== 'string') return { frames, bad: 1 };
  const lines = text.split('\n', MAX_FRAMES + 1);
  if (lines.length > MAX_FRAMES) return { frames, bad: 1 };
  for (const line of lines) {
    if (line === '' || line === '\r') continue;
    const f = parseFrame(line);
    if (f) frames.push(f);
    else bad++;
  }
  return { frames, bad };
}

/** A position in a channel: everything up to offset of epoch is had. */
export interface Position {
  offset: number;
  epoch: string;
}

/** formatCursor gives positions their text form (`id:offset:epoch,…`). */
export function formatCursor(ps: Iterable<[string, Position]>): string {
  const out: string[] = [];
  for (const [ch, p] of ps) out.push(`${encodeURIComponent(ch)}:${p.offset}:${p.epoch}`);
  return out.join(',');
}

/**
 * parseCursor reads a cursor's text, as formatCursor writes it and the
 * server sends it (SSE ids, poll answers); malformed entries are skipped,
 * and at most 256 kept.
 */
export function parseCursor(s: string): Map<string, Position> {
  const m = new Map<string, Position>();
  if (typeof s !== 'string' || s.length > 1 << 20) return m;
  for (const e of s.split(',', 257)) {
    const a = e.lastIndexOf(':');
    const b = a > 0 ? e.lastIndexOf(':', a - 1) : -1;
    if (b <= 0) continue;
    const offset = Number(e.slice(b + 1, a));
    let ch: string;
    try {
      ch = decodeURIComponent(e.slice(0, b).replace(/\+/g, ' '));
    } catch {
      continue;
    }
    if (!off(offset) || !/^\d+$/.test(e.slice(b + 1, a)) || m.size >= 256) continue;
    m.set(ch, { offset, epoch: e.slice(a + 1) });
  }
  return m;
}

/** tokenExpiry reads a JWT's exp claim (seconds), without checking it. */
export function tokenExpiry(token: string): number | undefined {
  try {
    const p = token.split('.')[1];
    if (!p || p.length > 8192) return undefined;
    const exp = JSON.parse(atob(p.replace(/-/g, '+').replace(/_/g, '/')))?.exp;
    return typeof exp === 'number' && Number.isFinite(exp) ? exp : undefined;
  } catch {
    return undefined;
  }
}
