// The demo page served by `halley` at /: each panel is a few lines on the
// public API of @halley/client. Built by `npm run build:demo` in js/client
// into cmd/halley/demo/app.js (the client itself is demo/client.js).
import { Client, type Gap, type State, type Transport } from '../client/src/index.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const el = (tag: string, cls: string, ...kids: (string | Node)[]) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  e.append(...kids);
  return e;
};
/** add puts a line at the top of a list, keeping the newest 50. */
const add = (list: HTMLElement, li: HTMLElement) => {
  list.prepend(li);
  while (list.children.length > 50) list.lastElementChild!.remove();
};
const sys = (list: HTMLElement, text: string) => add(list, el('li', 'sys', text));
const time = () => new Date().toLocaleTimeString();
const gapText = (g: Gap) =>
  g.reason === 'channel_full'
    ? `⚠ channel_full: fell off the ring, messages up to ${g.offset} are lost to this tab`
    : `⚠ ${g.reason}: the server lost this tab's position (a restart?), reading from ${g.offset}`;

const forced = new URLSearchParams(location.search).get('transport') as Transport | null;
const client = new Client({ transport: forced ?? 'auto' });
// For the browser tests: what this page received, by channel.
const seen: Record<string, number[]> = {};
(window as any).halleyDemo = { client, seen };
const note = (ch: string, offset: number) => (seen[ch] ??= []).push(offset);

// Connection: state, transport switch, reconnects and resumes.
const log = $('log');
const showState = (s: State) => {
  const badge = $('state');
  badge.className = 'badge ' + s.name;
  badge.textContent =
    s.name === 'connected' ? `connected · ${s.transport}` :
    s.name === 'connecting' ? `connecting · ${s.transport}` :
    s.name === 'reconnecting' ? `reconnecting #${s.attempt} in ${(s.delay / 1000).toFixed(1)} s` : `closed · ${s.reason}`;
  $('transport-now').textContent = client.stats.transport ?? '–';
  $('reconnects').textContent = String(client.stats.reconnects);
  $('resumes').textContent = String(client.stats.resumes);
  add(log, el('li', s.name === 'connected' ? '' : 'sys', `${time()} ${badge.textContent}${s.name === 'reconnecting' ? ` (${s.reason})` : ''}`));
};
client.on('state', showState);
$('state').textContent = `connecting · ${client.state.name === 'connecting' ? client.state.transport : ''}`;
client.on('resume', (r) => add(log, el('li', '', `${time()} resumed ${r.channels} channels by position over ${r.transport}`)));
client.on('session', () => add(log, el('li', 'sys', `${time()} the server forgot this tab's session: a new one`)));
client.on('activity', (a) => add(log, el('li', 'sys', `${time()} ${a ? 'tab shown: full speed' : 'tab hidden: polling less'}`)));
const seg = $('transport');
seg.addEventListener('click', (e) => {
  const t = (e.target as HTMLElement).dataset.t as Transport | 'auto' | undefined;
  if (!t) return;
  for (const b of seg.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b.dataset.t === t));
  client.setTransport(t);
});
if (forced) for (const b of seg.querySelectorAll('button')) b.setAttribute('aria-pressed', String(b.dataset.t === forced));
const countGap = () => ($('gaps').textContent = String(client.stats.gaps));

// Live counter: a newest channel, as a reactive value.
client.latest<{ value: number }>('demo:counter').subscribe((v) => {
  if (v) $('counter').textContent = String(v.value);
});

// News ticker: a broadcast channel; the button makes this reader fall off its ring.
interface Tick { tick: number; headline: string; time: string }
const news = $('news');
let ticker = client.channel<Tick>('demo', { last: 5 });
const readNews = () => {
  ticker.on('message', (m) => {
    note('demo', m.offset);
    add(news, el('li', '', el('span', 'tag', '#' + m.offset), m.value.headline));
  });
  ticker.on('gap', (g) => {
    sys(news, gapText(g));
    $('news-gap').textContent = gapText(g);
    countGap();
  });
};
readNews();
const burst = client.bus('demo:burst');
$('fall').addEventListener('click', async () => {
  const from = ticker.position;
  ticker.close(); // this reader pauses at its position…
  $('fall-note').textContent = 'Paused; flooding the ring…';
  try {
    await burst.write({ burst: true }); // …while the server writes more than the ring holds
  } catch (e) {
    $('fall-note').textContent = String(e);
  }
  ticker = client.channel<Tick>('demo', { position: from }); // back from where it stopped
  readNews();
  $('fall-note').textContent = 'Back: see the gap above.';
});

// Chat: a bus whose filter tags every line with its writer.
interface Line { name: string; text: string; writer: string }
const chat = client.bus<Line>('demo:chat', { last: 20 });
const mine = new Set<number>();
let me = '';
const chatList = $('chat');
chat.on('message', (m) => {
  note('demo:chat', m.offset);
  if (mine.has(m.offset)) me = m.value.writer;
  const li = el('li', '', el('span', 'tag' + (m.value.writer === me ? ' me' : ''), m.value.writer), el('b', '', m.value.name + ': '), m.value.text);
  li.dataset.writer = m.value.writer;
  li.dataset.offset = String(m.offset);
  add(chatList, li);
});
/** markMine tags this tab's own lines, once a write of its own came back. */
const markMine = (offset: number) => {
  mine.add(offset);
  const li = chatList.querySelector<HTMLElement>(`li[data-offset="${offset}"]`);
  if (li) me = li.dataset.writer!;
  for (const l of chatList.querySelectorAll<HTMLElement>('li[data-writer]')) l.firstElementChild!.classList.toggle('me', l.dataset.writer === me);
};
chat.on('gap', (g) => (sys(chatList, gapText(g)), countGap()));
const nameBox = $<HTMLInputElement>('chat-name');
nameBox.value = localStorage.getItem('halley-demo-name') ?? '';
$('chat-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const box = $<HTMLInputElement>('chat-text');
  localStorage.setItem('halley-demo-name', nameBox.value);
  $('chat-error').textContent = '';
  try {
    markMine(await chat.write({ name: nameBox.value, text: box.value, writer: '' }));
    box.value = '';
  } catch (err) {
    $('chat-error').textContent = 'refused: ' + String((err as Error).message);
  }
});

// Document edits: notifications of the keys this tab listens on.
interface Edit { doc: string; rev: number; author: string; change: string }
const docs = $('docs');
for (const key of ['alpha', 'beta', 'gamma']) {
  const b = el('button', 'btn', key);
  b.id = 'doc-' + key;
  b.setAttribute('aria-pressed', 'false');
  let listening: ReturnType<typeof client.listen<Edit>> | undefined;
  b.addEventListener('click', () => {
    if (listening) {
      listening.close();
      listening = undefined;
      sys(docs, `stopped listening to ${key}`);
    } else {
      listening = client.listen<Edit>('demo-docs', key);
      listening.on('notification', (n) =>
        add(docs, el('li', '', el('span', 'tag', `${n.key} r${n.value.rev}`), `${n.value.author} ${n.value.change}`)),
      );
      listening.on('gap', (g) => sys(docs, gapText(g)));
      listening.on('error', (e) => sys(docs, `refused: ${e.message}`));
      listening.on('listening', () => sys(docs, `listening to ${key}`));
    }
    b.setAttribute('aria-pressed', String(!!listening));
  });
  $('docs-keys').append(b);
}

// Lazy value: computed by the server when asked.
$('compute').addEventListener('click', async () => {
  const t0 = performance.now();
  const m = await client.first<{ n: number; computed: string; sessions: number }>('demo:lazy');
  $('lazy').textContent = '#' + m.value.n;
  $('lazy-note').textContent = `computed at ${new Date(m.value.computed).toLocaleTimeString()} for this request, in ${Math.round(performance.now() - t0)} ms, with ${m.value.sessions} sessions open`;
});

// The server's numbers, plotted over the last minute.
interface Stats { connections: number; messages_per_second: number }
const points: Stats[] = [];
client.channel<Stats>('demo:stats').on('message', (m) => {
  points.push(m.value);
  if (points.length > 60) points.shift();
  $('conns').textContent = String(m.value.connections);
  $('rate').textContent = m.value.messages_per_second.toFixed(1);
  const top = (k: keyof Stats) => Math.max(1, ...points.map((p) => p[k])) * 1.15;
  const line = (k: keyof Stats) =>
    points.map((p, i) => `${(i * 300) / Math.max(points.length - 1, 1)},${150 - (p[k] / top(k)) * 145}`).join(' ');
  $('plot').innerHTML =
    [37, 75, 112].map((y) => `<line class="grid" x1="0" x2="300" y1="${y}" y2="${y}"/>`).join('') +
    `<polyline class="conns" points="${line('connections')}"/><polyline class="rate" points="${line('messages_per_second')}"/>`;
  $('plot').dataset.points = String(points.length);
});
