// The wire contract has two renderings (dialects): ours, and the original design's, so that clients written
// for the original Go server work unchanged. A socket's dialect is chosen once, at the upgrade, by the
// WebSocket subprotocol it asks for; without one, WS_DEFAULT_DIALECT decides.

export type DialectName = 'auction' | 'original';
export const DIALECTS: readonly DialectName[] = ['auction', 'original'];

/** The subprotocol that names each dialect (Sec-WebSocket-Protocol). */
export const SUBPROTOCOL: Record<DialectName, string> = { auction: 'auction.v1', original: 'auction-original' };

const BY_SUBPROTOCOL = new Map<string, DialectName>(DIALECTS.map((d) => [SUBPROTOCOL[d], d]));

/**
 * The dialect a client asked for: the first subprotocol it offers that names one (its order is its
 * preference), the default when it offers none, or `unknown` when it offers only names we do not speak.
 */
export function negotiateDialect(offered: Iterable<string>, fallback: DialectName): { dialect: DialectName; subprotocol?: string } | { unknown: string[] } {
  const names = [...offered];
  if (names.length === 0) return { dialect: fallback };
  for (const n of names) {
    const d = BY_SUBPROTOCOL.get(n);
    if (d) return { dialect: d, subprotocol: n };
  }
  return { unknown: names };
}

/** The comma-separated Sec-WebSocket-Protocol header as a list of names. */
export function offeredSubprotocols(header: string | string[] | undefined): string[] {
  const raw = Array.isArray(header) ? header.join(',') : header ?? '';
  return raw.split(',').map((s) => s.trim()).filter(Boolean);
}
