// The baseline: the same bids as bidders.ts, sent straight to auction.place_bid, one bid per transaction,
// by the same number of concurrent bidders over `connections` database connections. No service involved.
import postgres from 'postgres';
import { randomUUID } from 'node:crypto';
import { BidTally, amountAt, bidderId, childMain, pickAuction, type BidLoad, type BidResult } from './lib.ts';

type Params = { databaseUrl: string; connections: number; load: BidLoad };
type Outcome = { accepted: boolean; reason: string | null; min_amount: string | null };

await childMain<Params, BidResult>(async (p) => {
  const { load } = p;
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
      await sql.end({ timeout: 5 });
      return tally.result();
    },
  };
});
