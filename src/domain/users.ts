import type { Sql } from 'postgres';

const known = new Set<string>();
const KNOWN_MAX = 100_000;

/** Users are created on first sight; a bounded in-process set saves the round trip for repeat visitors. */
export async function ensureUser(sql: Sql, id: string, name?: string) {
  if (known.has(id)) return;
  await sql`select auction.ensure_user(${id}, ${name ?? null})`;
  if (known.size >= KNOWN_MAX) known.clear();
  known.add(id);
}
