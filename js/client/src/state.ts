// The client's one state machine, and its backoff.

/** A transport of the Halley protocol. */
export type Transport = 'ws' | 'sse' | 'poll';

/** The state of a Client, as the application sees it. */
export type State =
  | { name: 'connecting'; transport: Transport }
  | { name: 'connected'; transport: Transport }
  | { name: 'reconnecting'; attempt: number; delay: number; reason: string }
  | { name: 'closed'; reason: string };

/** What moves the state machine. */
export type Step =
  | { to: 'connecting'; transport: Transport }
  | { to: 'connected'; transport: Transport }
  | { to: 'reconnecting'; attempt: number; delay: number; reason: string }
  | { to: 'closed'; reason: string };

/**
 * next returns the state after step, or undefined when the step is not
 * allowed from state: closed is final, and connected is reached only
 * from connecting on the same transport.
 */
export function next(state: State, step: Step): State | undefined {
  if (state.name === 'closed') return undefined;
  switch (step.to) {
    case 'connecting':
      return { name: 'connecting', transport: step.transport };
    case 'connected':
      if (state.name !== 'connecting' || state.transport !== step.transport) return undefined;
      return { name: 'connected', transport: step.transport };
    case 'reconnecting':
      if (!(step.attempt >= 1) || !(step.delay >= 0)) return undefined;
      return { name: 'reconnecting', attempt: step.attempt, delay: step.delay, reason: step.reason };
    case 'closed':
      return { name: 'closed', reason: step.reason };
  }
}

/**
 * backoff is the wait before the attempt-th reconnection in a row (from
 * 1): full jitter over min(max, base·2^(attempt-1)), at least retryAfter
 * (the server's advice), in milliseconds.
 */
export function backoff(attempt: number, base: number, max: number, random: () => number, retryAfter = 0): number {
  const bound = Math.min(max, base * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
  const r = random();
  const d = Math.floor((r >= 0 && r < 1 ? r : 0.5) * bound);
  return Math.max(d, retryAfter, 1);
}

/** retryAfter reads a Retry-After header (seconds or a date) in ms. */
export function retryAfter(h: string | null | undefined, now = Date.now()): number {
  if (!h) return 0;
  if (/^\d{1,6}$/.test(h.trim())) return Number(h.trim()) * 1000;
  const t = Date.parse(h);
  return Number.isFinite(t) ? Math.min(Math.max(t - now, 0), 3600e3) : 0;
}
