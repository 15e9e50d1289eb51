import postgres from 'postgres';
import { randomUUID } from 'node:crypto';
import type { Test } from 'tap';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../helpers/app.ts';
import { until } from '../helpers/wait.ts';

/** A built app (no listener) on `url`, closed at teardown unless the test closed it first. */
export async function startApp(t: Test, url: string, env: Record<string, string> = {}): Promise<{ app: FastifyInstance; close: () => Promise<void> }> {
  const built = await buildApp(t, url, env);
  await built.app.ready();
  return built;
}

export type Ended = { type: string; auction_id: string; winner_id: string | null; final_price: string | null; end_time: string; time: string; receivedAt: number };

/** LISTENs on auction:<id> for each id and records every event, to count auction_ended per auction. */
export async function listenAuctions(t: Test, url: string) {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  const events: Ended[] = [];
  const listen = async (id: string) => {
    await sql.listen(`auction:${id}`, (payload) => events.push({ ...JSON.parse(payload), receivedAt: Date.now() }));
  };
  t.teardown(() => sql.end({ timeout: 1 }));
  const ended = (id?: string) => events.filter((e) => e.type === 'auction_ended' && (id === undefined || e.auction_id === id));
  /**
   * Resolves once nothing more should arrive for these auctions: none of their start/end jobs waits to run
   * (one held by a killed instance stays active until it expires), and a marker notified after that on
   * each channel is in (notifications arrive in commit order).
   */
  const settled = async (ids: string[]) => {
    await until(async () => (await sql`
      select count(*)::int as n from pgboss.job where singleton_key = any(${ids}::text[]) and state < 'active'`)[0].n === 0,
    { timeoutMs: 20_000, pollMs: 50, what: 'their jobs to run' });
    const marker = randomUUID();
    for (const id of ids) await sql`select pg_notify(${`auction:${id}`}, ${JSON.stringify({ type: 'marker', auction_id: id, marker })})`;
    await until(() => ids.every((id) => events.some((e) => e.type === 'marker' && e.auction_id === id && (e as unknown as { marker: string }).marker === marker)),
      { what: 'the markers' });
  };
  return { listen, events, ended, settled };
}

/** Resolves once the database clock has passed `at`: for rules that are about time itself (an end, a soft close). */
export async function untilDatabaseTime(sql: postgres.Sql, at: Date, what: string) {
  await until(async () => (await sql`select clock_timestamp() >= ${at} as due`)[0].due, { timeoutMs: 30_000, pollMs: 20, what });
}
