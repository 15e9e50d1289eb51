// How the page writes amounts, times and people.

export const money = (n: number | null | undefined) => (n == null ? '–' : n.toFixed(2));

/** hh:mm:ss, with days in front when there are any. */
export function duration(ms: number) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86400);
  const hms = [Math.floor((s % 86400) / 3600), Math.floor((s % 3600) / 60), s % 60].map((x) => String(x).padStart(2, '0')).join(':');
  return d > 0 ? `${d}d ${hms}` : hms;
}

export const clock = (iso: string | number) => new Date(iso).toLocaleTimeString();

/** A person as this user sees them: "you", or their display name. */
export function person(id: string | null, name: string | null | undefined, me: string) {
  if (id === null) return 'nobody';
  return id === me ? 'you' : name ?? 'someone';
}

export type Claims = { sub?: string; name?: string; exp?: number };

/** The token's claims, read without checking it (the server checks it). */
export function claims(token: string): Claims {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), '='))) as Claims;
  } catch {
    return {};
  }
}

/** When the token expires (ms), if it says. */
export const expiry = (c: Claims) => (typeof c.exp === 'number' ? c.exp * 1000 : undefined);
