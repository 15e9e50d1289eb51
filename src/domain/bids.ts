import type { Sql } from 'postgres';
import { metrics } from '../metrics.ts';
import { toJsonAmount } from './money.ts';

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
  is_leading: boolean | null;
  max_amount: string | null;
  reserve_met: boolean | null;
  end_time: Date | null;
};

/** A typed bid (`amount`), a proxy bid up to `maxAmount`, or both (amount opens, the proxy defends). */
export type BidInput = { auctionId: string; userId: string; amount?: string | null; maxAmount?: string | null; requestId?: string | null };

/** One bid through auction.place_bid; the reply is only produced after the transaction committed. */
export async function placeBid(sql: Sql, b: BidInput): Promise<BidOutcome> {
  const end = metrics.bidLatency.startTimer();
  try {
    const [r] = await sql<BidOutcome[]>`
      select * from auction.place_bid(${b.auctionId}, ${b.userId}, ${b.amount ?? null}::numeric, ${b.requestId ?? null},
        ${b.maxAmount ?? null}::numeric)`;
    metrics.bids.inc({ outcome: r.accepted ? 'accepted' : r.reason ?? 'rejected' });
    return r;
  } finally {
    end();
  }
}

/** Buy-now through auction.buy_now: ends the auction for this user at its buy-now price. */
export async function buyNow(sql: Sql, b: { auctionId: string; userId: string; requestId?: string | null }): Promise<BidOutcome> {
  const [r] = await sql<BidOutcome[]>`select * from auction.buy_now(${b.auctionId}, ${b.userId}, ${b.requestId ?? null})`;
  metrics.bids.inc({ outcome: 'buy_now' });
  return r;
}

/** The public view of an accepted bid: bid_accepted data on the socket, the REST 201/200 body. */
export function acceptedView(r: BidOutcome) {
  return {
    bid_id: r.bid_id, amount: toJsonAmount(r.amount), seq: r.seq, current_price: toJsonAmount(r.current_price),
    min_next_bid: toJsonAmount(r.min_amount), duplicate: r.duplicate, time: r.created_at?.toISOString() ?? null,
    leading: r.is_leading, max_amount: toJsonAmount(r.max_amount), reserve_met: r.reserve_met,
    end_time: r.end_time?.toISOString() ?? null,
  };
}

/** The public view of a rejection: its reason, a sentence for people, and what would be accepted next. */
export function rejectedView(r: BidOutcome) {
  return {
    message: rejectionText(r.reason!, r.min_amount),
    data: { reason: r.reason, current_price: toJsonAmount(r.current_price), min_next_bid: toJsonAmount(r.min_amount) },
  };
}

function rejectionText(reason: string, min: string | null) {
  switch (reason) {
    case 'too_low': return `bid must be at least ${min}`;
    case 'not_started': return 'the auction has not started';
    case 'ended': return 'the auction has ended';
    case 'cancelled': return 'the auction was cancelled';
    case 'own_auction': return 'you cannot bid on your own auction';
    case 'auction_not_found': return 'no such auction';
    case 'invalid_amount': return 'give amount or max_amount: positive, with at most two decimals';
    case 'invalid_max_amount': return 'max_amount must be at least amount';
    case 'max_not_raised': return 'you lead already; a new maximum must be above your current one';
    case 'invalid_request_id': return 'request_id must be 1 to 128 characters';
    case 'request_id_conflict': return 'this request_id was already used with another amount';
    default: return reason;
  }
}
