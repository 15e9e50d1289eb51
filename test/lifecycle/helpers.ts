import postgres from 'postgres';
import type { Test } from 'tap';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../helpers/app.ts';

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
  return { listen, events, ended };
}

export async function until(pred: () => boolean | Promise<boolean>, ms: number, what: string) {
  const deadline = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// The service's way in: the auction row and its jobs in one transaction, as src/domain/auctions.ts does.
export async function createScheduled(app: FastifyInstance, seller: string, startsIn: number, endsIn: number,
  o: { softCloseSeconds?: number; reservePrice?: string } = {}) {
  return app.pg.sql.begin(async (tx) => {
    const [item] = await tx`select auction.create_item('lamp', '', ${seller}) as id`;
    const [a] = await tx<{ id: string; start_time: Date; end_time: Date }[]>`
      select * from auction.create_auction(${item.id}, ${seller},
        clock_timestamp() + make_interval(secs => ${startsIn}), clock_timestamp() + make_interval(secs => ${endsIn}),
        '10.00', '1.00', null, ${o.reservePrice ?? null}::numeric, null, ${o.softCloseSeconds ?? 0}::int)`;
    await app.scheduleAuction(tx, a);
    return a;
  }) as Promise<{ id: string; start_time: Date; end_time: Date }>;
}

