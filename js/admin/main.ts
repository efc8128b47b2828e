// The admin dashboard served by `halley` at /admin: it polls the HTTP API
// (GET /api/stats?detail=1 every second, the channel and session lists)
// for its plots and tables, runs the commands, and watches a channel live
// with the browser client. Built by `npm run build:admin` in js/client
// into cmd/halley/admin/app.js (the client bundled in, so that the page
// works with the demo off).
import { Client, type Subscription } from '../client/src/index.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const el = (tag: string, cls: string, ...kids: (string | Node)[]) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  e.append(...kids);
  return e;
};
const td = (text: string | number, cls = '') => el('td', cls, String(text));
/** none is the row of an empty table. */
const none = (text: string, cols: number) => {
  const cell = el('td', 'muted', text) as HTMLTableCellElement;
  cell.colSpan = cols;
  return el('tr', '', cell);
};
const fmt = (n: number) =>
  !isFinite(n) ? '–' : n >= 1e6 ? (n / 1e6).toFixed(1) + 'M' : n >= 1e4 ? (n / 1e3).toFixed(1) + 'k' : n >= 100 || Number.isInteger(n) ? n.toFixed(0) : n.toFixed(1);
const sum = (m: Record<string, number> | undefined) => Object.values(m ?? {}).reduce((a, b) => a + b, 0);

// ---- The API, with the key of this tab ----

const KEY = 'halley-admin-key';
let key = sessionStorage.getItem(KEY) ?? '';

class APIError extends Error {
  constructor(readonly status: number, readonly reason: string, message: string) {
    super(message);
  }
}

async function api<T>(path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (key) headers.Authorization = 'Bearer ' + key;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch('/api' + path, { method: body === undefined ? 'GET' : 'POST', headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store' });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new APIError(res.status, data.error ?? 'http_' + res.status, data.message ?? res.statusText);
  return data as T;
}

interface NodeStats { node: string; sessions: number; listeners: number }
interface Stats {
  channels: number; sessions: number; active: boolean; poll_timeout: string; node: string;
  refused: Record<string, number>;
  cluster?: { nodes: NodeStats[]; channels: number; listeners: number };
  connections: Record<string, number>; channel_kinds: Record<string, number>;
  published: number; delivered: number; bytes_written: number;
  gaps: Record<string, number>; ends: Record<string, number>; slow_clients: number;
  write_latency: { count: number; sum: number };
}
interface ChannelInfo { id: string; kind: string; scope?: string; listeners: number; offset: number; size: number; public: boolean }
interface SessionInfo { id: string; user?: string; channels: string[] }

// ---- Plots: a few series on a canvas, newest on the right ----

const WINDOW = 120; // points kept: two minutes at one a second
const palette = ['#3b5bdb', '#2f9e44', '#e8590c', '#ae3ec9', '#0c8599', '#e03131'];

class Plot {
  readonly series = new Map<string, number[]>();
  constructor(readonly canvas: HTMLCanvasElement, readonly legend: HTMLElement, names: string[], readonly unit = '') {
    for (const n of names) this.series.set(n, []);
  }
  push(values: Record<string, number>) {
    for (const [name, s] of this.series) {
      s.push(Math.max(0, values[name] ?? 0));
      if (s.length > WINDOW) s.shift();
    }
    this.draw();
  }
  draw() {
    const c = this.canvas, dpr = window.devicePixelRatio || 1;
    const w = c.clientWidth, h = c.clientHeight;
    if (c.width !== Math.round(w * dpr) || c.height !== Math.round(h * dpr)) {
      c.width = Math.round(w * dpr);
      c.height = Math.round(h * dpr);
    }
    const g = c.getContext('2d')!;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    const all = [...this.series.values()];
    const n = Math.max(0, ...all.map((s) => s.length));
    c.dataset.points = String(n);
    const top = niceMax(Math.max(1, ...all.flat()));
    c.dataset.max = String(Math.max(0, ...all.flat()));
    const left = 34, right = 6, pad = 8, bottom = 16;
    const ink = getComputedStyle(document.body).color;
    g.font = '10px system-ui, sans-serif';
    g.lineWidth = 1;
    for (let i = 0; i <= 4; i++) {
      const y = pad + ((h - pad - bottom) * i) / 4;
      g.strokeStyle = 'rgba(128,128,128,.18)';
      g.beginPath(); g.moveTo(left, y); g.lineTo(w - right, y); g.stroke();
      g.fillStyle = ink; g.globalAlpha = 0.55;
      g.fillText(fmt(top * (1 - i / 4)), 2, y + 3);
      g.globalAlpha = 1;
    }
    g.fillStyle = ink; g.globalAlpha = 0.55;
    g.fillText(`−${WINDOW} s`, left, h - 3);
    g.fillText('now', w - right - 20, h - 3);
    g.globalAlpha = 1;
    const x = (i: number, len: number) => left + ((w - left - right) * (WINDOW - len + i)) / (WINDOW - 1);
    const y = (v: number) => pad + (h - pad - bottom) * (1 - v / top);
    let k = 0;
    this.legend.replaceChildren();
    for (const [name, s] of this.series) {
      const color = palette[k++ % palette.length];
      g.strokeStyle = color; g.lineWidth = 2; g.lineJoin = 'round';
      g.beginPath();
      s.forEach((v, i) => (i ? g.lineTo(x(i, s.length), y(v)) : g.moveTo(x(i, s.length), y(v))));
      g.stroke();
      const last = s.length ? s[s.length - 1] : 0;
      const item = el('span', '', el('i', ''), name, el('b', '', fmt(last) + this.unit));
      item.dataset.series = name;
      item.dataset.last = String(last);
      (item.firstChild as HTMLElement).style.background = color;
      this.legend.append(item);
    }
  }
}

function niceMax(v: number) {
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

const transports = ['ws', 'sse', 'poll', 'comet'];
const plots = {
  conns: new Plot($('plot-conns'), $('legend-conns'), transports),
  msgs: new Plot($('plot-msgs'), $('legend-msgs'), ['published', 'delivered']),
  gaps: new Plot($('plot-gaps'), $('legend-gaps'), ['gaps', 'ended', 'slow cuts']),
};
window.addEventListener('resize', () => Object.values(plots).forEach((p) => p.draw()));

// ---- Polling ----

let prev: { at: number; s: Stats } | undefined;
let channels: ChannelInfo[] = [];
const showError = (e: unknown) => {
  $('err').textContent = e ? (e instanceof APIError ? `${e.reason}: ${e.message}` : String(e)) : '';
};

async function tick() {
  let s: Stats;
  try {
    s = await api<Stats>('/stats?detail=1');
  } catch (e) {
    if (e instanceof APIError && e.status === 401) return login('the key was refused: ' + e.message);
    showError(e);
    return;
  }
  showError('');
  const at = performance.now();
  const conns = sum(s.connections);
  $('node').textContent = s.node;
  $('k-conns').textContent = fmt(conns);
  $('k-sessions').textContent = fmt(s.sessions);
  $('k-channels').textContent = fmt(s.cluster ? s.cluster.channels : s.channels);
  const active = $('active');
  active.className = 'badge ' + (s.active ? 'ok' : 'bad');
  active.textContent = s.active ? 'active' : 'deactivated';
  $('poll').textContent = 'poll ' + s.poll_timeout;
  plots.conns.push(s.connections);
  if (prev) {
    const dt = (at - prev.at) / 1000, p = prev.s;
    const rate = (a: number, b: number) => (a - b) / dt;
    const pub = rate(s.published, p.published), del = rate(s.delivered, p.delivered);
    plots.msgs.push({ published: pub, delivered: del });
    plots.gaps.push({ gaps: rate(sum(s.gaps), sum(p.gaps)), ended: rate(sum(s.ends), sum(p.ends)), 'slow cuts': rate(s.slow_clients, p.slow_clients) });
    $('k-pub').textContent = fmt(pub);
    $('k-del').textContent = fmt(del);
    const n = s.write_latency.count - p.write_latency.count;
    $('k-lat').textContent = n > 0 ? ((1000 * (s.write_latency.sum - p.write_latency.sum)) / n).toFixed(2) + ' ms' : '–';
  }
  prev = { at, s };
  showNodes(s);
  const refused = Object.entries(s.refused).sort((a, b) => b[1] - a[1]);
  $('refused').replaceChildren(...(refused.length ? refused.map(([r, n]) => el('tr', '', td(r), td(n, 'num'))) : [none('none', 2)]));
}

function showNodes(s: Stats) {
  const nodes = s.cluster?.nodes ?? [{ node: s.node, sessions: s.sessions, listeners: channels.reduce((a, c) => a + c.listeners, 0) }];
  $('cluster-sum').textContent = s.cluster ? `${nodes.length} nodes · ${s.cluster.listeners} listeners` : 'a single node';
  $('nodes').replaceChildren(...nodes.map((n) => {
    const tr = el('tr', '', td(n.node + (n.node === s.node ? ' (this one)' : ''), 'id'), td(n.sessions, 'num'), td(n.listeners, 'num'));
    return tr;
  }));
}

async function readiness() {
  const b = $('ready');
  try {
    const res = await fetch('/readyz', { cache: 'no-store' });
    const r = await res.json();
    b.className = 'badge ' + (res.ok ? 'ok' : 'bad');
    b.textContent = `readyz ${res.status}${res.ok ? '' : ' · ' + r.reason}`;
    b.dataset.status = String(res.status);
  } catch (e) {
    b.className = 'badge warn';
    b.textContent = 'readyz unreachable';
    b.dataset.status = '0';
  }
}

// Presence: GET /api/channels/{id}/presence, where the server has it; a
// 404 or 405 shows "—" (an older server, or a channel just closed).
let presenceMissing = false;
const presence = new Map<string, string>();
let refreshes = 0;
async function presenceOf(id: string): Promise<string> {
  if (presenceMissing) return '—';
  try {
    const p = await api<any>(`/channels/${encodeURIComponent(id)}/presence`);
    const n = typeof p.count === 'number' ? p.count : typeof p.sessions === 'number' ? p.sessions : Array.isArray(p.sessions) ? p.sessions.length : Array.isArray(p.members) ? p.members.length : undefined;
    return n === undefined ? '—' : String(n);
  } catch (e) {
    if (e instanceof APIError && (e.reason === 'not_found' || e.status === 405)) presenceMissing = true;
    return '—';
  }
}

async function refreshTables() {
  try {
    const [cl, sl] = await Promise.all([api<{ channels: ChannelInfo[]; next?: string }>('/channels?limit=100'), api<{ count: number; sessions: SessionInfo[]; next?: string }>('/sessions?limit=100')]);
    channels = cl.channels;
    // Presence costs a request a channel: each count is asked again every
    // fifth refresh (10 s), a new channel's at once.
    const all = refreshes++ % 5 === 0;
    await Promise.all(channels.filter((c) => all || !presence.has(c.id)).map(async (c) => presence.set(c.id, await presenceOf(c.id))));
    $('channels-note').textContent = `${channels.length}${cl.next ? '+ (first 100 by id)' : ''} on this node`;
    $('channels').replaceChildren(...(channels.length ? channels.map(channelRow) : [none('no channels', 8)]));
    $('sessions-note').textContent = `${sl.count} live${sl.next ? ' · first 100 by id' : ''}`;
    $('sessions').replaceChildren(...(sl.sessions.length ? sl.sessions.map((s) => el('tr', '', td(s.id, 'id'), td(s.user || '–'), td(s.channels.length ? s.channels.join(', ') : '–', 'id'))) : [none('no sessions', 3)]));
  } catch (e) {
    if (e instanceof APIError && e.status === 401) return login('the key was refused: ' + e.message);
    showError(e);
  }
}

function channelRow(c: ChannelInfo) {
  const watching = watched?.channel === c.id;
  const b = el('button', 'btn small', watching ? 'Stop' : 'Watch') as HTMLButtonElement;
  b.dataset.watch = c.id;
  b.disabled = c.kind === 'session' || c.kind === 'lazy'; // read by their session only, or consumed by reading
  b.onclick = () => watch(watching ? undefined : c.id);
  const tr = el('tr', watching ? 'watched' : '', td(c.id, 'id'), td(c.kind + (c.scope ? ` · ${c.scope}` : '')), td(c.listeners, 'num'), td(c.offset, 'num'), td(c.size, 'num'), td(c.public ? 'yes' : 'no'), td(presence.get(c.id) ?? '—', 'num'), el('td', '', b));
  tr.dataset.id = c.id;
  return tr;
}

// ---- Watching a channel live, with the browser client ----

let client: Client | undefined;
let watched: Subscription | undefined;
function watch(id: string | undefined) {
  watched?.close();
  watched = undefined;
  const list = $('watch');
  list.replaceChildren();
  $('watch-name').textContent = id ?? 'click Watch on a channel';
  if (id) {
    client ??= new Client();
    const sub = (watched = client.channel(id, { last: 10 }));
    const add = (li: HTMLElement) => {
      list.prepend(li);
      while (list.children.length > 100) list.lastElementChild!.remove();
    };
    sub.on('message', (m) => {
      const text = typeof m.value === 'string' ? m.value : m.value instanceof Uint8Array ? `${m.value.length} bytes` : JSON.stringify(m.value);
      add(el('li', '', el('span', 'tag', '#' + m.offset), text.length > 300 ? text.slice(0, 300) + '…' : text));
    });
    sub.on('gap', (g) => add(el('li', 'sys', `gap: ${g.reason}, up to ${g.offset}`)));
    sub.on('end', (e) => add(el('li', 'sys', `ended: ${e.reason}`)));
  }
  for (const tr of $('channels').querySelectorAll('tr')) {
    const on = tr.dataset.id === id;
    tr.classList.toggle('watched', on);
    const b = tr.querySelector('button');
    if (b) b.textContent = on ? 'Stop' : 'Watch';
    if (b) b.onclick = () => watch(on ? undefined : tr.dataset.id);
  }
}

// ---- Commands ----

async function command(line: string) {
  try {
    await api('/command', { command: line });
    showError('');
  } catch (e) {
    showError(e);
  }
  await Promise.all([tick(), readiness()]);
}
$('activate').onclick = () => command('comet:activate');
$('deactivate').onclick = () => command('comet:deactivate');
$('timeout-form').onsubmit = (e) => {
  e.preventDefault();
  const v = Number(($('timeout') as HTMLInputElement).value);
  if (v >= 1) command(`comet:set_timeout ${Math.round(v)}`);
};

// ---- Start: the key, then a tick a second ----

let timer: number | undefined;
function login(why = '') {
  if (timer !== undefined) clearInterval(timer);
  timer = undefined;
  $('app').hidden = true;
  $('login').hidden = false;
  $('login-err').textContent = why;
  $('key').focus();
}
$('login-form').onsubmit = (e) => {
  e.preventDefault();
  key = ($('key') as HTMLInputElement).value.trim();
  sessionStorage.setItem(KEY, key);
  start();
};
$('logout').onclick = () => {
  sessionStorage.removeItem(KEY);
  key = '';
  login();
};

async function start() {
  try {
    await api('/stats');
  } catch (e) {
    if (e instanceof APIError && e.status === 401) return login(key ? 'the key was refused' : '');
    if (e instanceof APIError) return login(`${e.reason}: ${e.message}`);
  }
  $('login').hidden = true;
  $('app').hidden = false;
  let n = 0;
  const run = () => {
    tick();
    readiness();
    if (n++ % 2 === 0) refreshTables();
  };
  run();
  timer = window.setInterval(run, 1000);
}

(window as any).halleyAdmin = { plots, get client() { return client; }, get watched() { return watched?.channel; } };
start();
