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

/**
 * Users' display names by id, for live bid events: a notification carries the bidder's id only (the bid's
 * transaction stays as cheap as it is), and each instance looks the name up once, then keeps it a while.
 * Reads that show names otherwise join auction.users in SQL.
 */
export class UserNames {
  private cache = new Map<string, { name: string; at: number }>();
  private loading = new Map<string, Promise<string>>();
  private sql: Sql;
  private max: number;
  private ttlMs: number;
  private now: () => number;

  constructor(sql: Sql, o: { max?: number; ttlMs?: number; now?: () => number } = {}) {
    this.sql = sql;
    this.max = o.max ?? 50_000;
    this.ttlMs = o.ttlMs ?? 60_000;
    this.now = o.now ?? Date.now;
  }

  /** The name, from the cache when it is fresh; a user unknown to the database is named by its id's start, as ensure_user does. */
  name(id: string): Promise<string> {
    const hit = this.cache.get(id);
    if (hit && this.now() - hit.at < this.ttlMs) return Promise.resolve(hit.name);
    let p = this.loading.get(id);
    if (!p) {
      p = this.load(id).finally(() => this.loading.delete(id));
      this.loading.set(id, p);
    }
    return p;
  }

  private async load(id: string) {
    const [row] = await this.sql<{ name: string }[]>`select name from auction.users where id = ${id}`;
    const name = row?.name ?? id.slice(0, 8);
    if (this.cache.size >= this.max) this.cache.delete(this.cache.keys().next().value!);
    this.cache.delete(id); // re-inserted last: the oldest entries go first
    this.cache.set(id, { name, at: this.now() });
    return name;
  }
}
