import type { Sql } from 'postgres';
import { metrics } from '../metrics.ts';

export type BidOutcome = {
  accepted: boolean;
  reason: string | null;
  bid_id: string | null;
  seq: number | null;
  amount: string | null;
  current_price: string | null;
  min_amount: string | null;
  created_at: Date | null;
  duplicate: boolean;
};

export type BidInput = { auctionId: string; userId: string; amount: string; requestId?: string | null };

/** One bid through auction.place_bid; the reply is only produced after the transaction committed. */
export async function placeBid(sql: Sql, b: BidInput): Promise<BidOutcome> {
  const end = metrics.bidLatency.startTimer();
  try {
    const [r] = await sql<BidOutcome[]>`
      select * from auction.place_bid(${b.auctionId}, ${b.userId}, ${b.amount}::numeric, ${b.requestId ?? null})`;
    metrics.bids.inc({ outcome: r.accepted ? 'accepted' : r.reason ?? 'rejected' });
    return r;
  } finally {
    end();
  }
}
