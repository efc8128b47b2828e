// Scenarios of the browser client (@halley/client) and the demo page, in
// Debian's Chromium driven by playwright-core. Started by client_test.go:
//   node client.mjs SCENARIO URL [SCREENSHOT.png]
// It prints JSON lines on stdout: {"step": name, …} when it needs the test
// to act (the test answers with a line on stdin), then {"result": …}.
// Every wait is for what a page shows, never for time.
import { chromium } from 'playwright-core';
import readline from 'node:readline';

const [scenario, url, screenshot] = process.argv.slice(2);
const input = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const step = async (name, data = {}) => {
  console.log(JSON.stringify({ step: name, ...data }));
  return (await input.next()).value;
};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const errors = [];
const T = { timeout: 40000 };

/** open opens url in a fresh context (its own cookies: another browser). */
async function open(u, { blockWS = false, context } = {}) {
  const ctx = context ?? await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  if (blockWS) await page.routeWebSocket(/\/ws/, (ws) => ws.close());
  await page.goto(u);
  return page;
}
const has = (page, sel, text) =>
  page.waitForFunction(([s, t]) => document.querySelector(s)?.textContent.includes(t), [sel, text], T);
const state = (page) => page.evaluate(() => window.halleyDemo.client.state);
const connected = (page, transport) =>
  page.waitForFunction((t) => {
    const s = window.halleyDemo.client.state;
    return s.name === 'connected' && (!t || s.transport === t);
  }, transport, T);
async function say(page, name, text) {
  await page.fill('#chat-name', name);
  await page.fill('#chat-text', text);
  await page.click('#chat-form button');
  await has(page, '#chat', text);
}
const seen = (page, ch) => page.evaluate((c) => window.halleyDemo.seen[c] ?? [], ch);
const notify = (key, change) =>
  fetch(new URL('/api/notify', url), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(process.env.HALLEY_API_KEY ? { Authorization: 'Bearer ' + process.env.HALLEY_API_KEY } : {}) },
    body: JSON.stringify({ notifier: 'demo-docs', key, data: { doc: key, rev: 0, author: 'Test', change } }),
  }).then((r) => r.json());

const scenarios = {
  // Two pages (two browsers) chat through the bus; each line is tagged by its writer.
  async chat() {
    const a = await open(url);
    const b = await open(url);
    await connected(a);
    await connected(b);
    await say(a, 'Ann', 'hello from Ann');
    await has(b, '#chat', 'hello from Ann');
    await say(b, 'Bob', 'hi Ann, Bob here');
    await has(a, '#chat', 'hi Ann, Bob here');
    const tags = async (p) => p.$$eval('#chat li[data-writer]', (ls) => ls.map((l) => [l.dataset.writer, l.textContent]));
    return { a: await tags(a), b: await tags(b), errors };
  },

  // A notification reaches only the page listening on its key, and stops after unlisten.
  async notify() {
    const a = await open(url);
    const b = await open(url);
    await connected(a);
    await connected(b);
    await a.click('#doc-alpha');
    await b.click('#doc-beta');
    await has(a, '#docs', 'listening to alpha');
    await has(b, '#docs', 'listening to beta');
    await notify('alpha', 'marker one for alpha');
    await notify('beta', 'marker one for beta');
    await has(a, '#docs', 'marker one for alpha');
    await has(b, '#docs', 'marker one for beta'); // after alpha's: had b got alpha's, it would show by now
    await a.click('#doc-alpha'); // unlisten
    await a.click('#doc-gamma');
    await has(a, '#docs', 'listening to gamma');
    await notify('alpha', 'marker two for alpha');
    await notify('gamma', 'marker two for gamma');
    await has(a, '#docs', 'marker two for gamma');
    return { a: await a.innerText('#docs'), b: await b.innerText('#docs'), errors };
  },

  // WebSocket blocked: the client falls back to SSE and still gets every message, in order.
  async fallback() {
    const p = await open(url, { blockWS: true });
    await connected(p, 'sse');
    await say(p, 'Cleo', 'sent over SSE');
    // At least one message before and three after (a fresh server may
    // not have published the first yet).
    const start = Math.max(1, (await seen(p, 'demo')).length);
    await p.waitForFunction((n) => (window.halleyDemo.seen.demo ?? []).length >= n + 3, start, T);
    const st = await state(p);
    return { state: st, news: await seen(p, 'demo'), chat: await p.innerText('#chat'), stats: await p.evaluate(() => window.halleyDemo.client.stats) };
  },

  // The server restarts (a fresh process, the same named bus): the page reconnects,
  // resumes, and shows the gap for what the restart lost.
  async restart() {
    const transport = process.env.HALLEY_TRANSPORT || '';
    const p = await open(url + (transport ? `?transport=${transport}` : ''));
    await connected(p);
    await say(p, 'Dee', 'before the restart');
    await step('restart');
    await has(p, '#chat', 'unknown_position');
    await connected(p);
    await say(p, 'Dee', 'after the restart');
    return { chat: await p.innerText('#chat'), stats: await p.evaluate(() => window.halleyDemo.client.stats), state: await state(p) };
  },

  // A test page of its own (token_test pages): it pushes names on
  // window.__steps when the test must act, and sets window.__done.
  async page() {
    const p = await open(url);
    for (let n = 0; ; n++) {
      const h = await p.waitForFunction((n) => window.__done || (window.__steps?.length > n && window.__steps[n]), n, { timeout: 60000 });
      const v = await h.jsonValue();
      if (v === true) break;
      await step(v);
      await p.evaluate(() => window.__resume());
    }
    return { page: await p.evaluate(() => window.__result), errors };
  },

  // Switching transports by hand keeps the positions: nothing lost or twice.
  async switch() {
    const p = await open(url);
    await connected(p, 'ws');
    const next = async () => {
      const n = (await seen(p, 'demo')).length;
      await p.waitForFunction((n) => (window.halleyDemo.seen.demo ?? []).length >= n + 1, n, T);
    };
    await next();
    for (const [button, t] of [['sse', 'sse'], ['poll', 'poll'], ['ws', 'ws']]) {
      await p.click(`#transport button[data-t=${button}]`);
      await connected(p, t);
      await say(p, 'Eve', `over ${t}`);
      await next();
    }
    return { news: await seen(p, 'demo'), chat: await seen(p, 'demo:chat'), stats: await p.evaluate(() => window.halleyDemo.client.stats), errors };
  },

  // The admin dashboard: the key, a load the test runs, the plots and the
  // table showing it, a channel watched live, deactivate and activate.
  async admin() {
    const ctx = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    const p = await ctx.newPage();
    const consoleErrors = [];
    let phase = 'login';
    p.on('console', (m) => {
      if (m.type() !== 'error') return;
      const at = m.location().url, text = m.text();
      // Expected: presence is another branch's endpoint (404: the page
      // shows "—"), the 401s before the right key, /readyz's 503 while
      // deactivated.
      // From deactivate on, the watching client's reconnections may be
      // answered 503 deactivated too, until activate.
      if (at.includes('/presence') || phase === 'login' && text.includes('401') || phase === 'commands' && text.includes('503')) return;
      consoleErrors.push(`${text} (${at})`);
    });
    p.on('pageerror', (e) => consoleErrors.push(String(e)));
    await p.goto(url);
    await p.waitForSelector('#login:not([hidden])', T);
    await p.fill('#key', 'wrong key');
    await p.click('#login-form button');
    await has(p, '#login-err', 'refused');
    await p.fill('#key', process.env.HALLEY_API_KEY);
    await p.click('#login-form button');
    await p.waitForSelector('#app:not([hidden])', T);
    phase = 'in';
    const storedKey = await p.evaluate(() => sessionStorage.getItem('halley-admin-key'));
    await step('load');
    const last = (plot, series) => p.evaluate(([pl, s]) => Number(document.querySelector(`#legend-${pl} [data-series="${s}"]`)?.dataset.last ?? 0), [plot, series]);
    const wait = (f, arg) => p.waitForFunction(f, arg, T);
    // The plots: the test's subscribers by transport, and the messages moving.
    await wait(() => ['ws', 'sse', 'poll'].every((t) => Number(document.querySelector(`#legend-conns [data-series="${t}"]`)?.dataset.last) >= 1));
    await wait(() => Number(document.querySelector('#legend-msgs [data-series="published"]')?.dataset.last) > 0 &&
      Number(document.querySelector('#legend-msgs [data-series="delivered"]')?.dataset.last) > 0);
    await wait(() => Number(document.querySelector('#plot-msgs').dataset.points) >= 5);
    // The reader that fell off the burst ring: a gap in the plot.
    await wait(() => Number(document.querySelector('#plot-gaps').dataset.max) > 0);
    // The table: the load channel, its three listeners, its offset moving.
    const cell = (id, i) => `document.querySelector('#channels tr[data-id="${id}"]')?.children[${i}]?.textContent`;
    await wait(new Function(`return Number(${cell('load', 2)}) >= 3 && Number(${cell('load', 3)}) > 0`));
    const offset1 = Number(await p.evaluate(cell('load', 3)));
    await wait(new Function(`return Number(${cell('load', 3)}) > ${offset1}`));
    // Watch it live with the browser client.
    await p.click('#channels tr[data-id="load"] button[data-watch]');
    await wait(() => document.querySelectorAll('#watch li').length >= 3);
    // The test's four clients, its session with a user, and the page's.
    await wait(() => document.querySelectorAll('#sessions tr td.id:first-child').length >= 6);
    await has(p, '#sessions', 'alice');
    if (screenshot) await p.screenshot({ path: screenshot, fullPage: true });
    const row = await p.$$eval('#channels tr[data-id="load"] td', (tds) => tds.map((td) => td.textContent));
    const rows = await p.$$eval('#channels tr[data-id]', (trs) => trs.map((tr) => tr.dataset.id));
    const sessions = await p.$$eval('#sessions tr', (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
    const watched = await p.$$eval('#watch li', (lis) => lis.map((li) => li.textContent));
    const gapsMax = await p.getAttribute('#plot-gaps', 'data-max');
    const plots = { gapsMax: Number(gapsMax), published: await last('msgs', 'published'), delivered: await last('msgs', 'delivered'), ws: await last('conns', 'ws'), sse: await last('conns', 'sse'), poll: await last('conns', 'poll') };
    const nodes = await p.$$eval('#nodes tr', (trs) => trs.map((tr) => tr.textContent));
    // Commands.
    phase = 'commands';
    const top = () => p.evaluate(() => Number(document.querySelector('#watch li .tag')?.textContent.slice(1) ?? 0));
    await p.click('#deactivate');
    await has(p, '#active', 'deactivated');
    await wait(() => document.querySelector('#ready').dataset.status === '503');
    await step('deactivated');
    await p.click('#activate');
    await wait(() => document.querySelector('#ready').dataset.status === '200' && document.querySelector('#active').textContent === 'active');
    await step('activated');
    // The watched channel goes on after activate.
    const before = await top();
    await p.waitForFunction((n) => Number(document.querySelector('#watch li .tag')?.textContent.slice(1) ?? 0) > n, before, T);
    await p.fill('#timeout', '7');
    await p.click('#timeout-form button');
    await has(p, '#poll', 'poll 7s');
    return { storedKey, row, rows, sessions, watched, plots, nodes, errors: consoleErrors };
  },

  // The admin dashboard of a server without a key, opened on loopback: no key asked.
  async adminKeyless() {
    const p = await (await browser.newContext()).newPage();
    const errors = [];
    p.on('console', (m) => { if (m.type() === 'error' && !m.location().url.includes('/presence')) errors.push(m.text()); });
    p.on('pageerror', (e) => errors.push(String(e)));
    await p.goto(url);
    await p.waitForSelector('#app:not([hidden])', T);
    await p.waitForFunction(() => document.querySelector('#k-channels').textContent !== '–', null, T);
    await p.waitForFunction(() => document.querySelector('#channels tr[data-id]'), null, T);
    return { login: await p.isVisible('#login'), channels: await p.innerText('#k-channels'), rows: await p.$$eval('#channels tr[data-id]', (trs) => trs.map((tr) => tr.dataset.id)), errors };
  },

  // Every panel live, then a screenshot.
  async screenshot() {
    const p = await open(url);
    const other = await open(url);
    await connected(p);
    await connected(other);
    await say(other, 'Bob', 'hello from the other tab');
    await say(p, 'Ann', 'hello from this tab');
    await p.click('#doc-alpha');
    await other.click('#doc-beta');
    await p.click('#compute');
    await p.waitForFunction(() => document.querySelector('#lazy').textContent.startsWith('#'), null, T);
    await p.waitForFunction(() => document.querySelector('#news li'), null, T);
    await p.click('#fall');
    await has(p, '#news-gap', 'channel_full');
    await has(p, '#docs', 'listening to alpha');
    await notify('alpha', 'a live edit');
    await has(p, '#docs', 'a live edit');
    await p.waitForFunction(() => Number(document.querySelector('#plot').dataset.points) >= 3, null, T);
    // Both pages' connections counted by the server.
    await p.waitForFunction(() => Number(document.querySelector('#conns').textContent) >= 2, null, T);
    await p.waitForFunction(() => document.querySelector('#counter').textContent !== '–', null, T);
    if (screenshot) await p.screenshot({ path: screenshot, fullPage: true });
    const text = {};
    for (const id of ['state', 'counter', 'news', 'news-gap', 'chat', 'docs', 'lazy', 'conns', 'rate', 'log']) text[id] = await p.innerText('#' + id);
    text.points = await p.getAttribute('#plot', 'data-points');
    return { text, errors };
  },
};

let code = 0;
try {
  const f = scenarios[scenario];
  if (!f) throw new Error(`no scenario ${scenario}`);
  console.log(JSON.stringify({ result: await f() }));
} catch (err) {
  console.error(String(err?.stack ?? err));
  code = 1;
} finally {
  await browser.close();
}
process.exit(code);
