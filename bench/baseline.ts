// The baseline: the same bids as bidders.ts, sent straight to auction.place_bid, one bid per transaction,
// by the same number of concurrent bidders over `connections` database connections. No service involved.
// With `batch` > 1 (the hot auction's anchor): `connections` closed loops each sending `batch` bids at a time
// to auction.place_bids, from consecutive bidders, each bid a cent above the one before it in the batch.
import postgres from 'postgres';
import { randomUUID } from 'node:crypto';
import { BidTally, amountAt, bidderId, childMain, pickAuction, type BidLoad, type BidResult } from './lib.ts';

type Params = { databaseUrl: string; connections: number; load: BidLoad; batch?: number };
type Outcome = { accepted: boolean; reason: string | null; min_amount: string | null };

await childMain<Params, BidResult>(async (p) => {
  const { load } = p;
  const batch = p.batch ?? 1;
  const sql = postgres(p.databaseUrl, { max: p.connections, onnotice: () => {}, connection: { application_name: 'bench-baseline' } });
  const users = Array.from({ length: load.bidders }, (_, k) => bidderId(load.firstBidder + k));
  for (const u of users) await sql`select auction.ensure_user(${u}, 'bench bidder')`;
  // open every connection before the clock starts
  await Promise.all(Array.from({ length: p.connections }, () => sql`select 1`));
  return {
    info: { connections: p.connections },
    run: async () => {
      const start = performance.now();
      const tally = new BidTally(start, load);
      const deadline = start + load.durationMs;
      if (batch > 1) {
        let next = 0;
        await Promise.all(Array.from({ length: p.connections }, async () => {
          while (performance.now() < deadline) {
            const who = Array.from({ length: batch }, () => users[next++ % users.length]);
            const auctions = who.map(() => pickAuction(load));
            const amounts = who.map((_, k) => amountAt(load.t0, k));
            const sentAt = performance.now();
            try {
              const rows = await sql<Outcome[]>`
                select accepted, reason from auction.place_bids(${auctions}::uuid[], ${who}::uuid[], ${amounts}::numeric[], ${who.map(() => randomUUID())}::text[])`;
              for (const r of rows) tally.done(sentAt, r.accepted ? 'accepted' : 'rejected', r.reason ?? undefined);
            } catch (err) {
              for (let k = 0; k < batch; k++) tally.done(sentAt, 'error', (err as { code?: string }).code ?? 'error');
            }
          }
        }));
      } else {
        await Promise.all(users.map(async (userId) => {
          while (performance.now() < deadline) {
            const auctionId = pickAuction(load);
            const sentAt = performance.now();
            try {
              const [r] = await sql<Outcome[]>`
                select accepted, reason, min_amount from auction.place_bid(${auctionId}, ${userId}, ${amountAt(load.t0)}::numeric, ${randomUUID()})`;
              tally.done(sentAt, r.accepted ? 'accepted' : 'rejected', r.reason ?? undefined);
            } catch (err) {
              tally.done(sentAt, 'error', (err as { code?: string }).code ?? 'error');
            }
          }
        }));
      }
      await sql.end({ timeout: 5 });
      return tally.result();
    },
  };
});
