import { Emitter } from './emitter.js';
import {
  checkFrame,
  formatCursor,
  type Frame,
  MAX_FRAME,
  MAX_FRAMES,
  parseFrame,
  payloadOf,
  type Position,
  splitFrames,
  tokenExpiry,
} from './frames.js';
import { backoff, next, retryAfter, type State, type Step, type Transport } from './state.js';

/** A message of a channel or bus. */
export interface Message<T = unknown> {
  type: 'message';
  channel: string;
  offset: number;
  /** The payload: the JSON value, the text, or the bytes. */
  value: T;
  /** How the payload came: `json`, `data` (text) or `data64` (bytes). */
  payload: 'json' | 'data' | 'data64';
}

/** Messages up to offset are lost to this client; reading goes on after it. */
export interface Gap {
  type: 'gap';
  channel: string;
  /** `channel_full` (fell off the ring) or `unknown_position` (another epoch, or beyond the end). */
  reason: string;
  offset: number;
  epoch: string;
}

/** The subscription is over. */
export interface End {
  type: 'end';
  channel: string;
  /**
   * `channel_ended`, `unknown_channel`, `forbidden`, `channel_full` (a dead
   * session channel), or, from the client itself, `unsubscribed` and `closed`.
   */
  reason: string;
}

/** A notification of a key that the client listens on. */
export interface Notification<T = unknown> {
  type: 'notification';
  notifier: string;
  key: string;
  value: T;
}

/** A refusal by the server: of a write, a listen, a token, or a frame. */
export class HalleyError extends Error {
  constructor(
    /** The machine-readable reason (`rejected`, `forbidden`, `disconnected`…). */
    readonly reason: string,
    message = '',
    /** The HTTP status, when the refusal came as one. */
    readonly status = 0,
  ) {
    super(message ? `${reason}: ${message}` : reason);
    this.name = 'HalleyError';
  }
}

/** Where a subscription starts when it has no position yet. */
export interface SubscribeOptions {
  /** Start with the last n retained messages. Default: from now on. */
  last?: number;
  /** Start after this position (from a previous subscription's `position`). */
  position?: Position;
  /**
   * Receive `join` and `leave` events of the channel's members (for a
   * channel made with presence). Best followed over WebSocket or SSE: a
   * long-poll gets only those that happen while it waits.
   */
  presence?: boolean;
}

/** A member's arrival or departure on a channel with presence. */
export interface PresenceEvent {
  type: 'join' | 'leave';
  channel: string;
  /** The member's user; absent for an anonymous one. */
  user?: string;
}

/** Who reads a channel now (`Client.presence`). */
export interface Presence {
  channel: string;
  connections: number;
  sessions: number;
  users: number;
  /** Whether the channel lists its members. */
  presence: boolean;
  /** The members (users), for a channel with presence. */
  members?: { user: string; sessions: number; connections: number }[];
  truncated?: boolean;
}

export interface ClientOptions {
  /** The server's base URL (`https://push.example.com`). Default: the page's origin. */
  url?: string;
  /** Force one transport; default `auto`: WebSocket, then SSE, then long-poll. */
  transport?: Transport | 'auto';
  /** A token for each connection, called at connect and before the token expires. */
  getToken?: () => string | null | undefined | Promise<string | null | undefined>;
  /** How long before a token's expiry it is refreshed, in ms (at most half its life). Default 30000. */
  refreshBefore?: number;
  /** The first reconnection's backoff bound, in ms. Default 500. */
  backoffBase?: number;
  /** The largest backoff, in ms. Default 30000. */
  backoffMax?: number;
  /** How long a transport has to say hello before the next one is tried, in ms. Default 10000. */
  connectTimeout?: number;
  /** How long a tab stays hidden before it polls less, in ms. Default 60000; -1: never. */
  hiddenGrace?: number;
  /** The pause between polls of a hidden tab after the grace, in ms. Default 30000. */
  hiddenInterval?: number;
  /** Bus writes are sent in batches of at most this many values. Default 20. */
  batchSize?: number;
  /** … or after at most this long, in ms. Default 50. */
  batchDelay?: number;
  /** A session id to go on with. Default: a new one. */
  session?: string;
  /** For tests and other runtimes. */
  WebSocket?: typeof WebSocket;
  EventSource?: typeof EventSource;
  fetch?: typeof fetch;
  random?: () => number;
}

/** The events of a Client. */
export interface ClientEvents {
  state: State;
  /** A connection opened with positions to resume from. */
  resume: { transport: Transport; channels: number };
  /** A refusal, or a malformed frame from the server. */
  error: HalleyError;
  online: void;
  offline: void;
  /** false when a hidden tab starts to poll less, true when it is shown. */
  activity: boolean;
  /** The server forgot the session (a restart, an expiry): a new one is in use. */
  session: string;
}

/** The counters a Client keeps, for display. */
export interface Stats {
  connects: number;
  reconnects: number;
  resumes: number;
  messages: number;
  gaps: number;
  transport?: Transport;
}

interface SubEvents<T> {
  message: Message<T>;
  gap: Gap;
  end: End;
  subscribed: { kind: string; offset: number; epoch: string };
  /** A member joined (subscriptions with `presence: true`). */
  join: PresenceEvent;
  /** A member left. */
  leave: PresenceEvent;
  /** The server dropped presence events of this channel for this client (it fell behind). */
  presence_lost: { channel: string };
}

/**
 * Subscription reads one channel. Listen with on('message' | 'gap' |
 * 'end' | 'subscribed'), or iterate with for await (messages and gaps,
 * then the end).
 */
export class Subscription<T = unknown> extends Emitter<SubEvents<T>> {
  /** The channel's kind once subscribed: broadcast, newest, session or lazy. */
  kind?: string;
  /** The end, once the subscription is over. */
  ended?: End;

  /** @internal */
  constructor(
    protected readonly _c: Client,
    readonly channel: string,
    /** @internal */ readonly _start: SubscribeOptions,
  ) {
    super();
  }

  /** The position reached: pass it to subscribe later to go on from here. */
  get position(): Position | undefined {
    const p = this._c._pos.get(this.channel);
    return p && { ...p };
  }

  /** close stops the subscription; it ends with reason `unsubscribed`. */
  close(): void {
    this._c._unsubscribe(this, 'unsubscribed');
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Message<T> | Gap | End> {
    return this._iterate(['message', 'gap', 'end'], 'end');
  }

  /** @internal */
  _fire<K extends keyof SubEvents<T>>(k: K, v: SubEvents<T>[K]): void {
    this._emit(k, v);
  }
}

/** Bus is a subscription to a bus that the client also writes to. */
export class Bus<T = unknown> extends Subscription<T> {
  /**
   * write sends value (as JSON) to the bus; it resolves with the offset it
   * entered at, or rejects with a HalleyError (`rejected`, `forbidden`,
   * `disconnected`…). A client's writes enter in the order written.
   */
  write(value: T): Promise<number> {
    return this._c._write(this.channel, value);
  }
}

interface ListenEvents<T> {
  /** The server confirmed the listen (again after a new session): notifications come from now on. */
  listening: { channel: string };
  notification: Notification<T>;
  gap: Gap;
  error: HalleyError;
  end: End;
}

/** Listening is a key of a notifier that the client listens on. */
export class Listening<T = unknown> extends Emitter<ListenEvents<T>> {
  /** @internal */
  constructor(
    private readonly _c: Client,
    readonly notifier: string,
    readonly key: string,
  ) {
    super();
  }

  /** close unlistens. */
  close(): void {
    this._c._unlisten(this);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Notification<T> | Gap | End> {
    return this._iterate(['notification', 'gap', 'end'], 'end');
  }

  /** @internal */
  _fire<K extends keyof ListenEvents<T>>(k: K, v: ListenEvents<T>[K]): void {
    this._emit(k, v);
  }
}

/**
 * Latest holds the last value of a channel, with a change event: the
 * value of a signal, for any framework. subscribe follows the Svelte store
 * contract (and fits React's useSyncExternalStore with get).
 */
export class Latest<T = unknown> extends Emitter<{ change: T }> {
  value: T | undefined;

  /** @internal */
  constructor(readonly subscription: Subscription<T>) {
    super();
    subscription.on('message', (m) => {
      this.value = m.value;
      this._emit('change', m.value);
    });
  }

  get = (): T | undefined => this.value;

  /** subscribe calls f with the value now and at every change; it returns the stop. */
  subscribe = (f: (v: T | undefined) => void): (() => void) => {
    f(this.value);
    return this.on('change', f);
  };

  close(): void {
    this.subscription.close();
  }
}

/** A connection of one transport. */
interface Conn {
  t: Transport;
  opened?: boolean;
  dead?: boolean;
  timer?: ReturnType<typeof setTimeout>;
  send(o: object): boolean;
  update(): void;
  close(): void;
}

interface Op {
  resolve: (v: number) => void;
  reject: (e: HalleyError) => void;
  channel: string;
  value: unknown;
  ref?: string;
}

interface Info {
  reason: string;
  status?: number;
  retryAfter?: number;
}

const ORDER: Transport[] = ['ws', 'sse', 'poll'];
const CLOSE_CODES: Record<number, string> = {
  1001: 'shutdown',
  4401: 'token_expired',
  4410: 'session_closed',
  4503: 'deactivated',
  4408: 'slow_client',
  4400: 'bad_frame',
};
const lkey = (n: string, k: string) => n + '\n' + k;

class HTTPError extends HalleyError {
  constructor(
    status: number,
    reason: string,
    message: string,
    readonly retryAfter: number,
  ) {
    super(reason, message, status);
  }
}

/**
 * Client connects a page to a Halley server: channels, buses and
 * notifications over one connection, falling back from WebSocket to SSE to
 * long-poll, resuming every channel by position after any reconnect.
 */
export class Client extends Emitter<ClientEvents> {
  /** The current state. */
  state: State;
  /** Counters, for display. */
  readonly stats: Stats = { connects: 0, reconnects: 0, resumes: 0, messages: 0, gaps: 0 };
  /** The session id, once the server gave one. */
  session?: string;
  /** false while a hidden tab polls less. */
  active = true;

  /** @internal */ readonly _pos = new Map<string, Position>();
  private _subs = new Map<string, Subscription<any>>();
  private _listens = new Map<string, Listening<any>>();
  private _live = new Set<string>(); // keys listened on the current session
  private _notif?: string; // the session's notification channel
  private _o: Required<Omit<ClientOptions, 'getToken' | 'session' | 'url'>> & ClientOptions;
  private _base: string;
  private _conn?: Conn;
  private _attempt = 0;
  private _tried = new Set<Transport>();
  private _broken = new Set<Transport>();
  private _timer?: ReturnType<typeof setTimeout>;
  private _refreshTimer?: ReturnType<typeof setTimeout>;
  private _hideTimer?: ReturnType<typeof setTimeout>;
  private _pause?: () => void;
  private _token?: string;
  private _tokenStale = false;
  private _rushed = false;
  private _queue: Op[] = [];
  private _flushTimer?: ReturnType<typeof setTimeout>;
  private _refs = new Map<string, Op | Listening<any> | 'refresh'>();
  private _ref = 0;
  private _http: Promise<unknown> = Promise.resolve();
  private _pending = false;
  private _busy = false;
  private _detach: (() => void)[] = [];

  constructor(opts: ClientOptions = {}) {
    super();
    const g = globalThis as any;
    this._o = {
      transport: 'auto',
      refreshBefore: 30000,
      backoffBase: 500,
      backoffMax: 30000,
      connectTimeout: 10000,
      hiddenGrace: 60000,
      hiddenInterval: 30000,
      batchSize: 20,
      batchDelay: 50,
      WebSocket: g.WebSocket,
      EventSource: g.EventSource,
      fetch: g.fetch && ((...a: Parameters<typeof fetch>) => g.fetch(...a)),
      random: Math.random,
      ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)),
    } as Client['_o'];
    this._base = (opts.url ?? g.location?.origin ?? '').replace(/\/+$/, '');
    this.session = opts.session;
    this.state = { name: 'connecting', transport: this._pick() };
    const d = g.document;
    if (d?.addEventListener) {
      const vis = () => this._visibility(d.visibilityState === 'hidden');
      d.addEventListener('visibilitychange', vis);
      this._detach.push(() => d.removeEventListener('visibilitychange', vis));
    }
    if (g.addEventListener) {
      const on = () => {
        this._emit('online', undefined);
        this._wake();
      };
      const off = () => this._emit('offline', undefined);
      g.addEventListener('online', on);
      g.addEventListener('offline', off);
      this._detach.push(() => (g.removeEventListener('online', on), g.removeEventListener('offline', off)));
    }
  }

  /** channel subscribes to a channel (from now, the last n, or a position). */
  channel<T = unknown>(name: string, opts: SubscribeOptions = {}): Subscription<T> {
    return this._add(name, opts, Subscription) as Subscription<T>;
  }

  /** bus subscribes to a bus, to read and write it. */
  bus<T = unknown>(name: string, opts: SubscribeOptions = {}): Bus<T> {
    return this._add(name, opts, Bus) as Bus<T>;
  }

  /** latest follows the last value of a channel (it reads the last message, then every new one). */
  latest<T = unknown>(name: string): Latest<T> {
    return new Latest(this.channel<T>(name, { last: 1 }));
  }

  /** first resolves with the next message of a channel (a lazy one's value is computed then), or rejects at its end. */
  first<T = unknown>(name: string, opts: SubscribeOptions = {}): Promise<Message<T>> {
    const shared = this._subs.has(name);
    const s = this.channel<T>(name, opts);
    return new Promise((resolve, reject) => {
      s.once('message', (m) => {
        resolve(m);
        if (!shared) s.close();
      });
      s.on('end', (e) => reject(new HalleyError(e.reason)));
    });
  }

  /** listen listens on a key of a notifier. */
  listen<T = unknown>(notifier: string, key: string): Listening<T> {
    const k = lkey(notifier, key);
    let l = this._listens.get(k);
    if (!l) {
      this._listens.set(k, (l = new Listening<T>(this, notifier, key)));
      this._live.delete(k);
      const c = this._conn;
      if (c?.opened && c.t === 'ws') this._sendListen(c, l);
      else this._changed();
    }
    return l as Listening<T>;
  }

  /** setTransport forces a transport (or `auto`), switching now; positions are kept. */
  setTransport(t: Transport | 'auto'): void {
    this._o.transport = t;
    this._broken.clear();
    if (this._conn) this._drop(this._conn, { reason: 'switch' });
    else this._wake();
  }

  /** The cursor of every position (the text form SSE and polls use). */
  cursor(): string {
    return formatCursor(this._pos);
  }

  /** close stops the client for good: its state becomes closed('closed'). */
  close(): void {
    this._close('closed');
  }

  private _close(reason: string): void {
    if (this.state.name === 'closed') return;
    this._step({ to: 'closed', reason });
    clearTimeout(this._timer);
    clearTimeout(this._refreshTimer);
    clearTimeout(this._hideTimer);
    clearTimeout(this._flushTimer);
    this._detach.forEach((f) => f());
    const c = this._conn;
    this._conn = undefined;
    if (c) {
      c.dead = true;
      clearTimeout(c.timer);
      c.close();
    }
    for (const op of this._queue) op.reject(new HalleyError('closed'));
    this._queue = [];
    this._failRefs('closed');
    for (const s of [...this._subs.values()]) this._unsubscribe(s, 'closed');
    for (const l of [...this._listens.values()]) this._endListen(l, 'closed');
  }

  // --- subscriptions

  private _add(name: string, opts: SubscribeOptions, K: typeof Subscription): Subscription<any> {
    let s = this._subs.get(name);
    if (s) return s;
    this._subs.set(name, (s = new K(this, name, opts)));
    if (opts.position) this._pos.set(name, { ...opts.position });
    else this._pos.delete(name);
    const c = this._conn;
    if (c?.opened && c.t === 'ws') c.send(this._subFrame(name));
    else this._changed();
    return s;
  }

  /** @internal */
  _unsubscribe(s: Subscription<any>, reason: string): void {
    if (this._subs.get(s.channel) !== s) return;
    this._subs.delete(s.channel);
    this._pos.delete(s.channel);
    const c = this._conn;
    if (c?.opened && c.t === 'ws') c.send({ type: 'unsubscribe', channel: s.channel });
    else if (c?.t === 'poll') c.update(); // an SSE stream reading one channel too many is harmless
    this._end(s, reason);
  }

  private _end(s: Subscription<any>, reason: string): void {
    if (s.ended) return;
    s._fire('end', (s.ended = { type: 'end', channel: s.channel, reason }));
  }

  private _subFrame(ch: string): object {
    const p = this._pos.get(ch);
    const pres = this._subs.get(ch)?._start.presence ? { presence: true } : {};
    if (p) return { type: 'subscribe', channel: ch, after: p.offset, epoch: p.epoch, ...pres };
    const last = this._subs.get(ch)?._start.last;
    return last ? { type: 'subscribe', channel: ch, last, ...pres } : { type: 'subscribe', channel: ch, ...pres };
  }

  /** Channels to read: the subscriptions and the notification channel. */
  private _channels(): string[] {
    const out = [...this._subs.keys()];
    if (this._notif && this._listens.size) out.push(this._notif);
    return out;
  }

  // --- notifications

  /** @internal */
  _unlisten(l: Listening<any>): void {
    const k = lkey(l.notifier, l.key);
    if (this._listens.get(k) !== l) return;
    this._endListen(l, 'unsubscribed');
    const live = this._live.delete(k);
    const c = this._conn;
    if (!live || !c) return;
    if (c.opened && c.t === 'ws') c.send({ type: 'unlisten', notifier: l.notifier, key: l.key });
    else this._serial(() => this._post('/unlisten', { notifier: l.notifier, key: l.key })).catch(() => {});
  }

  private _endListen(l: Listening<any>, reason: string): void {
    this._listens.delete(lkey(l.notifier, l.key));
    l._fire('end', { type: 'end', channel: this._notif ?? '', reason });
  }

  private _sendListen(c: Conn, l: Listening<any>): void {
    const ref = 'l' + ++this._ref;
    this._refs.set(ref, l);
    c.send({ type: 'listen', notifier: l.notifier, key: l.key, ref });
  }

  /** Listens over HTTP those keys not live on the session. */
  private async _httpListens(): Promise<void> {
    for (const [k, l] of [...this._listens]) {
      if (this._live.has(k)) continue;
      try {
        const j = await this._serial(() => this._post('/listen', { notifier: l.notifier, key: l.key }));
        if (typeof j.channel === 'string' && this._listens.get(k) === l) {
          this._setNotif(j.channel);
          this._live.add(k);
          l._fire('listening', { channel: j.channel });
        }
      } catch (e) {
        if (!(e instanceof HTTPError) || e.status >= 500 || e.status === 429 || e.status === 401) throw e;
        this._endListen(l, e.reason);
        l._fire('error', e);
      }
    }
  }

  private _setNotif(ch: string): void {
    if (this._notif !== ch && this._notif) this._pos.delete(this._notif);
    this._notif = ch;
  }

  private _notify(m: Message<unknown>): void {
    const v = m.value as Record<string, unknown>;
    if (typeof v !== 'object' || !v || typeof v.notifier !== 'string' || typeof v.key !== 'string') return this._bad();
    const [ok, value] = payloadOf(v);
    if (!ok) return this._bad();
    this._listens.get(lkey(v.notifier, v.key))?._fire('notification', { type: 'notification', notifier: v.notifier, key: v.key, value });
  }

  // --- writes

  /** @internal */
  _write(channel: string, value: unknown): Promise<number> {
    return new Promise((resolve, reject) => {
      if (this.state.name === 'closed') return reject(new HalleyError('closed'));
      if (value === undefined) return reject(new HalleyError('bad_value', 'undefined is not JSON'));
      this._queue.push({ resolve, reject, channel, value });
      if (this._queue.length >= this._o.batchSize) this._flush();
      else this._flushTimer ??= setTimeout(() => this._flush(), this._o.batchDelay);
    });
  }

  private _flush(): void {
    clearTimeout(this._flushTimer);
    this._flushTimer = undefined;
    const c = this._conn;
    if (!c?.opened) return this._changed(); // sent once connected
    const batch = this._queue.splice(0, this._o.batchSize);
    for (const op of batch) {
      if (c.t === 'ws') {
        op.ref = 'w' + ++this._ref;
        this._refs.set(op.ref, op);
        if (!c.send({ type: 'write', channel: op.channel, json: op.value, ref: op.ref })) {
          this._refs.delete(op.ref);
          this._queue.unshift(op);
        }
      } else {
        this._serial(() => this._post('/write', { channel: op.channel, json: op.value })).then(
          (j) => (typeof j.offset === 'number' ? op.resolve(j.offset) : op.reject(new HalleyError('bad_answer'))),
          (e) => op.reject(e instanceof HalleyError ? e : new HalleyError('disconnected', String(e))),
        );
      }
    }
    if (this._queue.length) this._flushTimer = setTimeout(() => this._flush(), 0);
  }

  private _failRefs(reason: string): void {
    for (const v of this._refs.values()) if (v !== 'refresh' && !(v instanceof Listening)) v.reject(new HalleyError(reason));
    this._refs.clear();
  }

  // --- HTTP

  /** Runs HTTP requests that need the session one after the other, in order. */
  private _serial<V>(f: () => Promise<V>): Promise<V> {
    const p = this._http.then(f, f);
    this._http = p.catch(() => {});
    return p;
  }

  /** _wantsPresence reports whether a subscription asked for presence events. */
  private _wantsPresence(): boolean {
    for (const s of this._subs.values()) if (s._start.presence) return true;
    return false;
  }

  /**
   * presence asks who reads channel now: counts for any channel the client
   * may read, and the users of a channel with presence. It rejects with a
   * HalleyError (`forbidden`, `unknown_channel`…).
   */
  async presence(channel: string): Promise<Presence> {
    const h: Record<string, string> = { 'Halley-Session': this.session ?? 'new' };
    if (this._token) h.Authorization = 'Bearer ' + this._token;
    const q = new URLSearchParams({ channel });
    const res = await this._o.fetch(this._base + '/presence?' + q, { headers: h });
    const text = await res.text();
    let j: any = {};
    if (text.length <= MAX_FRAME * 4) {
      try {
        j = JSON.parse(text);
      } catch {}
    }
    if (!res.ok || typeof j !== 'object' || !j || typeof j.connections !== 'number') {
      throw new HalleyError(typeof j?.error === 'string' ? j.error.slice(0, 64) : 'http_' + res.status, '', res.status);
    }
    this._adopt(res.headers.get('Halley-Session'));
    return j as Presence;
  }

  private async _post(path: string, body: object, signal?: AbortSignal): Promise<Record<string, any>> {
    const h: Record<string, string> = { 'Content-Type': 'application/json' };
    h['Halley-Session'] = this.session ?? 'new';
    if (this._token) h.Authorization = 'Bearer ' + this._token;
    const res = await this._o.fetch(this._base + path, { method: 'POST', headers: h, body: JSON.stringify(body), signal });
    const text = await res.text();
    let j: any = {};
    if (text.length <= MAX_FRAME * 4) {
      try {
        j = JSON.parse(text);
      } catch {}
    }
    if (typeof j !== 'object' || !j || Array.isArray(j)) j = {};
    if (!res.ok) {
      const reason = typeof j.error === 'string' ? j.error.slice(0, 64) : 'http_' + res.status;
      throw new HTTPError(res.status, reason, typeof j.message === 'string' ? j.message.slice(0, 4096) : '', retryAfter(res.headers.get('Retry-After')));
    }
    this._adopt(res.headers.get('Halley-Session') ?? j.session);
    return j;
  }

  /** _adopt takes the session the server gave; another than ours means ours is gone. */
  private _adopt(s: unknown): void {
    if (typeof s !== 'string' || !s || s.length > 1024 || s === this.session) return;
    const had = this.session !== undefined;
    this.session = s;
    if (!had) return;
    this._live.clear();
    if (this._notif) this._pos.delete(this._notif);
    this._notif = undefined;
    this._emit('session', s);
  }

  // --- connection

  private _step(s: Step): void {
    const n = next(this.state, s);
    if (!n) return;
    this.state = n;
    this._emit('state', n);
  }

  private _order(): Transport[] {
    const t = this._o.transport;
    if (t !== 'auto') return [t];
    if (!this.active) return ['poll'];
    const ok = ORDER.filter(
      (t) => !this._broken.has(t) && (t === 'ws' ? this._o.WebSocket : t === 'sse' ? this._o.EventSource : true),
    );
    return ok.length ? ok : ['poll'];
  }

  private _pick(): Transport {
    const o = this._order();
    return o.find((t) => !this._tried.has(t)) ?? o[0];
  }

  /** Something changed that needs a connection, or an SSE stream made again. */
  private _changed(): void {
    if (this._pending) return;
    this._pending = true;
    queueMicrotask(() => {
      this._pending = false;
      const c = this._conn;
      if (c) c.update();
      else if (this._timer === undefined) void this._connect();
    });
  }

  private _needed(): boolean {
    return this._subs.size > 0 || this._listens.size > 0 || this._queue.length > 0;
  }

  private async _connect(): Promise<void> {
    if (this.state.name === 'closed' || this._conn || this._busy || !this._needed()) return;
    const t = this._pick();
    this._step({ to: 'connecting', transport: t });
    this._busy = true;
    try {
      await this._tokenFor();
    } catch (e) {
      this._busy = false;
      this._emit('error', new HalleyError('token', String(e)));
      return this._retry({ reason: 'token' });
    }
    this._busy = false;
    if ((this.state as State).name === 'closed' || this._conn) return;
    let c: Conn;
    try {
      c = this._conn = t === 'ws' ? this._ws() : t === 'sse' ? this._sse() : this._poll();
    } catch (e) {
      this._emit('error', new HalleyError('transport', String(e)));
      return this._retry({ reason: 'transport' });
    }
    c.timer = setTimeout(() => {
      if (!c.opened && !c.dead) this._drop(c, { reason: 'timeout' });
    }, this._o.connectTimeout);
  }

  private async _tokenFor(): Promise<void> {
    const f = this._o.getToken;
    if (!f) return;
    const exp = this._token && tokenExpiry(this._token);
    if (this._token === undefined || this._tokenStale || (exp && exp * 1000 - Date.now() < this._o.refreshBefore)) {
      this._token = (await f()) ?? undefined;
      this._tokenStale = false;
    }
  }

  /** _drop closes c and handles its end. */
  private _drop(c: Conn, info: Info): void {
    c.close();
    this._ended(c, info);
  }

  private _ended(c: Conn, info: Info): void {
    if (c.dead) return;
    c.dead = true;
    clearTimeout(c.timer);
    if (this._conn !== c) return;
    this._conn = undefined;
    clearTimeout(this._refreshTimer);
    this._failRefs('disconnected');
    if (this.state.name === 'closed') return;
    const r = info.reason;
    if (r === 'token_expired' || info.status === 401) this._tokenStale = true;
    if (info.status === 403 && r === 'forbidden_origin') return this._close(r);
    if (r === 'switch') return void this._connect();
    if (!c.opened && this._o.transport === 'auto' && this._order().some((t) => !this._tried.has(t) && t !== c.t)) {
      this._tried.add(c.t);
      return void this._connect();
    }
    if (this._tokenStale && !this._rushed && this._o.getToken) {
      this._rushed = true;
      return void this._connect();
    }
    this._retry(info);
  }

  private _retry(info: Info): void {
    this._tried.clear();
    const g = globalThis as any;
    const a = ++this._attempt;
    const offline = g.navigator?.onLine === false;
    const delay = offline
      ? this._o.backoffMax
      : backoff(a, this._o.backoffBase, this._o.backoffMax, this._o.random, info.retryAfter);
    this._step({ to: 'reconnecting', attempt: a, delay, reason: info.reason });
    clearTimeout(this._timer);
    this._timer = setTimeout(() => {
      this._timer = undefined;
      void this._connect();
    }, delay);
  }

  /** _wake reconnects now if a reconnection or a hidden tab's pause waits. */
  private _wake(): void {
    this._pause?.();
    if (this._timer === undefined) return;
    clearTimeout(this._timer);
    this._timer = undefined;
    this._tried.clear();
    void this._connect();
  }

  private _opened(c: Conn): void {
    if (c.opened || c !== this._conn) return;
    c.opened = true;
    clearTimeout(c.timer);
    for (const t of this._tried) if (ORDER.indexOf(t) < ORDER.indexOf(c.t)) this._broken.add(t);
    this._tried.clear();
    this._attempt = 0;
    this._rushed = false;
    const st = this.stats;
    if (st.connects++) st.reconnects++;
    st.transport = c.t;
    this._step({ to: 'connected', transport: c.t });
    const n = [...this._pos.keys()].filter((k) => this._subs.has(k)).length;
    if (n) {
      st.resumes++;
      this._emit('resume', { transport: c.t, channels: n });
    }
    if (c.t !== 'ws' && this._o.getToken) this._schedule(this._token ? tokenExpiry(this._token) : undefined);
    if (this._queue.length) this._flush();
  }

  // --- frames

  private _bad(n = 1): void {
    if (n) this._emit('error', new HalleyError('bad_frame', `${n} malformed frame(s) from the server ignored`));
  }

  private _frame(c: Conn, f: Frame): void {
    if (c !== this._conn || c.dead) return;
    switch (f.type) {
      case 'hello':
        this._adopt(f.session);
        if (c.t !== 'ws' && [...this._listens.keys()].some((k) => !this._live.has(k))) {
          return this._drop(c, { reason: 'switch' }); // a new session: listen again first
        }
        if (c.t === 'ws') {
          for (const ch of this._channels()) c.send(this._subFrame(ch));
          for (const [k, l] of this._listens) if (!this._live.has(k)) this._sendListen(c, l);
        }
        this._opened(c);
        this._schedule(f.expires);
        return;
      case 'subscribed': {
        this._pos.set(f.channel, { offset: f.offset, epoch: f.epoch });
        const s = this._subs.get(f.channel);
        if (s) {
          s.kind = f.kind;
          s._fire('subscribed', { kind: f.kind, offset: f.offset, epoch: f.epoch });
        }
        return;
      }
      case 'msg': {
        const p = this._pos.get(f.channel);
        const s = this._subs.get(f.channel);
        const notif = f.channel === this._notif;
        if (!s && !notif) return;
        if (p && f.offset <= p.offset) return; // had it already
        this._pos.set(f.channel, { offset: f.offset, epoch: p?.epoch ?? '' });
        this.stats.messages++;
        const m: Message = { type: 'message', channel: f.channel, offset: f.offset, value: f.value, payload: f.payload };
        if (s) s._fire('message', m);
        else this._notify(m);
        return;
      }
      case 'join':
      case 'leave': {
        const s = this._subs.get(f.channel);
        if (s?._start.presence) s._fire(f.type, { type: f.type, channel: f.channel, user: f.user });
        return;
      }
      case 'presence_lost': {
        const s = this._subs.get(f.channel);
        if (s?._start.presence) s._fire('presence_lost', { channel: f.channel });
        return;
      }
      case 'gap': {
        if (!this._subs.has(f.channel) && f.channel !== this._notif) return;
        this._pos.set(f.channel, { offset: f.offset, epoch: f.epoch });
        this.stats.gaps++;
        const g: Gap = { type: 'gap', channel: f.channel, reason: f.reason, offset: f.offset, epoch: f.epoch };
        const s = this._subs.get(f.channel);
        if (s) s._fire('gap', g);
        else for (const l of this._listens.values()) l._fire('gap', g);
        return;
      }
      case 'ended': {
        const s = this._subs.get(f.channel);
        if (s) {
          this._subs.delete(f.channel);
          this._pos.delete(f.channel);
          this._end(s, f.reason);
        } else if (f.channel === this._notif) {
          // The session's notifications are gone: listen again.
          this._pos.delete(f.channel);
          this._notif = undefined;
          this._live.clear();
          c.t === 'ws' ? this._listens.forEach((l) => this._sendListen(c, l)) : this._drop(c, { reason: 'switch' });
        }
        return;
      }
      case 'error': {
        const op = f.ref !== undefined ? this._refs.get(f.ref) : undefined;
        const e = new HalleyError(f.reason, f.message);
        if (op) this._refs.delete(f.ref!);
        if (op instanceof Listening) {
          this._endListen(op, f.reason);
          op._fire('error', e);
        } else if (op && op !== 'refresh') op.reject(e);
        else this._emit('error', e);
        return;
      }
      case 'close':
        return this._drop(c, { reason: f.reason });
      case 'written': {
        const op = f.ref !== undefined ? this._refs.get(f.ref) : undefined;
        if (op && op !== 'refresh' && !(op instanceof Listening)) {
          this._refs.delete(f.ref!);
          op.resolve(f.offset);
        }
        return;
      }
      case 'listening': {
        const k = lkey(f.notifier, f.key);
        if (f.ref) this._refs.delete(f.ref);
        const l = this._listens.get(k);
        if (!l) return;
        this._live.add(k);
        this._setNotif(f.channel);
        l._fire('listening', { channel: f.channel });
        return;
      }
      case 'refreshed':
        if (f.ref) this._refs.delete(f.ref);
        return this._schedule(f.expires);
    }
  }

  // --- tokens

  /** _schedule refreshes the token before expires (Unix seconds). */
  private _schedule(expires: number | undefined): void {
    clearTimeout(this._refreshTimer);
    if (!expires || !this._o.getToken) return;
    const left = expires * 1000 - Date.now();
    const at = Math.max(0, left - Math.min(this._o.refreshBefore, left / 2));
    this._refreshTimer = setTimeout(() => this._refresh(), Math.min(at, 2 ** 31 - 1));
  }

  private async _refresh(): Promise<void> {
    const c = this._conn;
    let tok: string | undefined;
    try {
      tok = (await this._o.getToken!()) ?? undefined;
    } catch (e) {
      return this._emit('error', new HalleyError('token', String(e)));
    }
    this._token = tok;
    if (!c || c !== this._conn || !tok) return;
    if (c.t === 'ws') {
      const ref = 'r' + ++this._ref;
      this._refs.set(ref, 'refresh');
      c.send({ type: 'refresh', token: tok, ref });
    } else if (c.t === 'sse') {
      this._drop(c, { reason: 'switch' }); // the stream goes on with the new token, from its positions
    } else {
      this._schedule(tokenExpiry(tok));
    }
  }

  // --- activity

  private _visibility(hidden: boolean): void {
    clearTimeout(this._hideTimer);
    if (hidden) {
      if (this._o.hiddenGrace < 0) return;
      this._hideTimer = setTimeout(() => {
        this.active = false;
        this._emit('activity', false);
        const c = this._conn;
        if (c && c.t !== 'poll' && this._o.transport === 'auto') this._drop(c, { reason: 'switch' });
      }, this._o.hiddenGrace);
      return;
    }
    if (!this.active) {
      this.active = true;
      this._emit('activity', true);
      const c = this._conn;
      if (c && c.t !== this._pick() && this._o.transport === 'auto') this._drop(c, { reason: 'switch' });
    }
    this._wake();
  }

  // --- transports

  private _url(path: string, q: URLSearchParams): string {
    // A session of this client's own: naming one keeps the server from
    // taking the cookie that every tab of the browser shares.
    q.set('session', this.session ?? 'new');
    if (this._token) q.set('token', this._token);
    return this._base + path + '?' + q;
  }

  private _ws(): Conn {
    const ws = new this._o.WebSocket(this._url('/ws', new URLSearchParams()).replace(/^http/, 'ws'));
    const c: Conn = {
      t: 'ws',
      send: (o) => {
        if (ws.readyState !== 1) return false;
        ws.send(JSON.stringify(o));
        return true;
      },
      update: () => {
        if (c.opened && this._queue.length) this._flush();
      },
      close: () => {
        ws.onclose = ws.onmessage = null;
        try {
          ws.close();
        } catch {}
      },
    };
    ws.onmessage = (e) => {
      const { frames, bad } = splitFrames(e.data);
      this._bad(bad);
      for (const f of frames) this._frame(c, f);
    };
    ws.onclose = (e) => this._ended(c, { reason: CLOSE_CODES[e.code] ?? 'closed' });
    return c;
  }

  /** Anchors channels without a position with polls that answer at once. */
  private async _anchor(c: Conn): Promise<void> {
    for (let i = 0; ; i++) {
      const loose = this._channels().filter((ch) => !this._pos.has(ch));
      if (!loose.length || c.dead) return;
      if (i > 8) throw new HalleyError('bad_answer', 'polls without subscribed frames');
      const last = this._subs.get(loose[0])?._start.last ?? 0;
      const group = loose.filter((ch) => (this._subs.get(ch)?._start.last ?? 0) === last);
      this._answer(c, await this._serial(() => this._post('/poll', { channels: group, last })));
    }
  }

  private _answer(c: Conn, j: Record<string, any>): void {
    const fs = Array.isArray(j.frames) ? j.frames : [];
    if (fs.length > MAX_FRAMES) return this._bad();
    for (const o of fs) {
      const f = checkFrame(o);
      if (f) this._frame(c, f);
      else this._bad();
    }
  }

  private _sse(): Conn {
    let es: EventSource | undefined;
    const c: Conn = {
      t: 'sse',
      send: () => false,
      update: () => this._drop(c, { reason: 'switch' }),
      close: () => es?.close(),
    };
    (async () => {
      await this._httpListens();
      await this._anchor(c);
      if (c.dead) return;
      const q = new URLSearchParams({ cursor: formatCursor([...this._pos].filter(([ch]) => this._channels().includes(ch))) });
      if (this._wantsPresence()) q.set('presence', '1');
      es = new this._o.EventSource(this._url('/sse', q));
      es.onmessage = (e) => {
        const f = parseFrame(e.data);
        if (f) this._frame(c, f);
        else this._bad();
      };
      es.onerror = () => this._drop(c, { reason: 'error' });
    })().catch((e) => this._ended(c, info(e)));
    return c;
  }

  private _poll(): Conn {
    let ctl: AbortController | undefined;
    const c: Conn = {
      t: 'poll',
      send: () => false,
      update: () => {
        if (c.opened && this._queue.length) this._flush();
        ctl?.abort();
      },
      close: () => {
        ctl?.abort();
        this._pause?.();
      },
    };
    (async () => {
      while (!c.dead) {
        await this._httpListens();
        const chans = this._channels();
        const loose = chans.filter((ch) => !this._pos.has(ch));
        const last = (loose.length && this._subs.get(loose[0])?._start.last) || 0;
        const group = loose.filter((ch) => (this._subs.get(ch)?._start.last ?? 0) === last);
        const cursor = formatCursor([...this._pos].filter(([ch]) => chans.includes(ch)));
        ctl = new AbortController();
        // A poll the server holds is a live connection.
        const held = setTimeout(() => this._opened(c), 1000);
        let j: Record<string, any>;
        try {
          j = await this._post('/poll', { channels: group, cursor, last, ...(this._wantsPresence() ? { presence: true } : {}) }, ctl.signal);
        } catch (e) {
          if (ctl.signal.aborted && !c.dead) continue;
          throw e;
        } finally {
          clearTimeout(held);
        }
        if (c.dead) return;
        this._opened(c);
        this._answer(c, j);
        if (!this.active && !c.dead) {
          await new Promise<void>((r) => {
            const t = setTimeout(r, this._o.hiddenInterval);
            this._pause = () => (clearTimeout(t), r());
          });
        }
        this._pause = undefined;
      }
    })().catch((e) => this._ended(c, info(e)));
    return c;
  }
}

function info(e: unknown): Info {
  return e instanceof HTTPError
    ? { reason: e.reason, status: e.status, retryAfter: e.retryAfter }
    : { reason: e instanceof HalleyError ? e.reason : 'network' };
}
