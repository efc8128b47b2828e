/** A listener's exception is reported on its own (reportError), never thrown into the client. */
function safely<V>(f: (v: V) => void, v: V): void {
  try {
    f(v);
  } catch (e) {
    const report = (globalThis as { reportError?: (e: unknown) => void }).reportError;
    if (report) report(e);
    else
      setTimeout(() => {
        throw e;
      });
  }
}

/** Emitter is a small typed event emitter. */
export class Emitter<E> {
  private _l = new Map<keyof E, Set<(v: never) => void>>();

  /** on calls f for every event of type k; it returns a function that stops it. */
  on<K extends keyof E>(k: K, f: (v: E[K]) => void): () => void {
    let s = this._l.get(k);
    if (!s) this._l.set(k, (s = new Set()));
    s.add(f);
    return () => void s.delete(f);
  }

  /** once calls f for the next event of type k only. */
  once<K extends keyof E>(k: K, f: (v: E[K]) => void): () => void {
    const off = this.on(k, (v) => {
      off();
      f(v);
    });
    return off;
  }

  protected _emit<K extends keyof E>(k: K, v: E[K]): void {
    const s = this._l.get(k);
    if (s) for (const f of [...s]) safely(f as (v: E[K]) => void, v);
  }

  /**
   * _iterate yields the events of the given types in order, buffering
   * those not yet taken, until one of type last (yielded too).
   */
  protected _iterate<V>(types: (keyof E)[], last: keyof E): AsyncIterableIterator<V> {
    const q: V[] = [];
    let done = false;
    let wake: (() => void) | undefined;
    const offs = types.map((t) =>
      this.on(t, (v) => {
        if (done) return;
        q.push(v as V);
        if (t === last) stop();
        wake?.();
      }),
    );
    const stop = () => {
      done = true;
      offs.forEach((f) => f());
    };
    const it: AsyncIterableIterator<V> = {
      async next() {
        while (!q.length && !done) await new Promise<void>((r) => (wake = r));
        return q.length ? { value: q.shift()!, done: false } : { value: undefined, done: true };
      },
      async return() {
        stop();
        q.length = 0;
        wake?.();
        return { value: undefined, done: true };
      },
      [Symbol.asyncIterator]() {
        return it;
      },
    };
    return it;
  }
}
