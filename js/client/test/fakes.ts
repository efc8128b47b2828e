// Fake transports for the client's unit tests: a WebSocket, an EventSource
// and a fetch that the test drives by hand.

export class FakeWS {
  static all: FakeWS[] = [];
  readyState = 0;
  sent: any[] = [];
  closed = false;
  onmessage: ((e: { data: unknown }) => void) | null = null;
  onclose: ((e: { code: number }) => void) | null = null;
  constructor(readonly url: string) {
    FakeWS.all.push(this);
  }
  send(s: string) {
    this.sent.push(JSON.parse(s));
  }
  close() {
    this.closed = true;
  }
  /** server sends frames (objects, or raw text) as one message. */
  server(...frames: (object | string)[]) {
    this.readyState = 1;
    this.onmessage?.({ data: frames.map((f) => (typeof f === 'string' ? f : JSON.stringify(f))).join('\n') });
  }
  drop(code = 1006) {
    this.readyState = 3;
    this.onclose?.({ code });
  }
  static last() {
    return FakeWS.all[FakeWS.all.length - 1];
  }
}

export class FakeES {
  static all: FakeES[] = [];
  onmessage: ((e: { data: string }) => void) | null = null;
  onerror: (() => void) | null = null;
  closed = false;
  constructor(readonly url: string) {
    FakeES.all.push(this);
  }
  close() {
    this.closed = true;
  }
  server(f: object | string) {
    this.onmessage?.({ data: typeof f === 'string' ? f : JSON.stringify(f) });
  }
  fail() {
    this.onerror?.();
  }
  static last() {
    return FakeES.all[FakeES.all.length - 1];
  }
}

export interface Req {
  url: string;
  body: any;
  headers: Record<string, string>;
  answer(status: number, body: object, headers?: Record<string, string>): void;
  fail(): void;
  signal?: AbortSignal;
}

/** fakeFetch queues requests; the test answers them. */
export function fakeFetch() {
  const reqs: Req[] = [];
  let waiters: (() => void)[] = [];
  const f = ((url: string, init: any) =>
    new Promise((resolve, reject) => {
      const r: Req = {
        url,
        body: init.body === undefined ? undefined : JSON.parse(init.body),
        headers: init.headers,
        signal: init.signal,
        answer: (status, body, headers = {}) =>
          resolve({
            ok: status < 300,
            status,
            headers: { get: (k: string) => headers[k] ?? null },
            text: async () => JSON.stringify(body),
          }),
        fail: () => reject(new TypeError('network')),
      };
      init.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
      reqs.push(r);
      const w = waiters;
      waiters = [];
      w.forEach((x) => x());
    })) as unknown as typeof fetch;
  /** next waits for the n-th request (from 0). */
  const nth = async (n: number): Promise<Req> => {
    while (reqs.length <= n) await new Promise<void>((r) => waiters.push(r));
    return reqs[n];
  };
  return { fetch: f, reqs, nth };
}

/** until waits for cond, turning the event loop. */
export async function until(cond: () => unknown, what = 'condition'): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 1));
  }
  throw new Error('never true: ' + what);
}
