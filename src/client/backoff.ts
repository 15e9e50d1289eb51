// Reconnect delays: exponential with full jitter, so many clients dropped at once do not return at once.

export type BackoffOptions = {
  /** first delay's upper bound, ms */
  initialMs?: number;
  /** cap, ms */
  maxMs?: number;
  /** the random source, for tests */
  random?: () => number;
};

/** Delay before reconnect attempt `attempt` (0-based): a random value in [base/2, base], base = initial * 2^attempt, capped. */
export function backoffDelay(attempt: number, o: BackoffOptions = {}): number {
  const initial = o.initialMs ?? 250;
  const max = o.maxMs ?? 15_000;
  const base = Math.min(max, initial * 2 ** Math.min(attempt, 30));
  const r = (o.random ?? Math.random)();
  return Math.round(base / 2 + (base / 2) * r);
}
