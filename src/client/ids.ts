// Request ids: unique per client without crypto.randomUUID, which browsers only have in secure contexts.

function randomPart(): string {
  const c = (globalThis as { crypto?: { getRandomValues?: (a: Uint32Array) => Uint32Array } }).crypto;
  if (c?.getRandomValues) {
    const a = c.getRandomValues(new Uint32Array(2));
    return a[0].toString(36) + a[1].toString(36);
  }
  return Math.random().toString(36).slice(2) + Math.random().toString(36).slice(2);
}

/** A generator of ids like `k3x9q2-17`: a random prefix per client, then a counter. */
export function requestIds(): () => string {
  const prefix = randomPart();
  let n = 0;
  return () => `${prefix}-${++n}`;
}
