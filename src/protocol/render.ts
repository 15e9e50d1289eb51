// The one place where the server builds what it sends: domain rows and database notifications become the
// wire messages of messages.ts, for the socket and the REST API alike. The original design's rendering of the
// same contract (its dialect) sits beside it in original/render.ts.
import type { AuctionPage, BidRow, NamedAuction } from '../domain/auctions.ts';
import type { BidOutcome } from '../domain/bids.ts';
import type { BidEvent, OutbidEvent, StatusEvent } from '../realtime/notifications.ts';
import { toJsonAmount } from './amount.ts';
import type { IssueDetail } from './issues.ts';
import type {
  AuctionList, AuctionSnapshot, BidAcceptedData, BidList, BidPlacedData, BidRejectedData, EndReason, RejectionReason,
  ServerMessage, ServerMessageType, StatusMessage,
} from './messages.ts';

type Unstamped<M> = M extends unknown ? Omit<M, 'timestamp'> : never;

/** A message of type T with the server's clock. */
export function message<T extends ServerMessageType>(m: Unstamped<ServerMessage<T>>): ServerMessage<T> {
  return { ...m, timestamp: Date.now() } as unknown as ServerMessage<T>;
}

export function errorMessage(code: string, text: string, requestId?: string, auctionId?: string, details?: IssueDetail[]): ServerMessage<'error'> {
  return message<'error'>({ type: 'error', request_id: requestId, auction_id: auctionId,
    error: details ? { code, message: text, details } : { code, message: text } });
}

const amount = (v: string) => Number(v);

/** The public view of an auction. Never the leader's maximum, never the reserve itself. */
export function snapshot(a: NamedAuction): AuctionSnapshot {
  return {
    auction_id: a.id,
    item_id: a.item_id,
    item_name: a.item_name,
    item_description: a.item_description,
    creator_id: a.creator_id,
    creator_name: a.creator_name,
    status: a.status,
    starting_price: amount(a.starting_price),
    current_price: amount(a.current_price),
    min_increment: toJsonAmount(a.min_increment),
    // exactly one of the two is set (constraint auctions_one_increment_rule)
    increments: a.min_increment !== null ? { fixed: amount(a.min_increment) } : { table: a.increment_table! },
    min_next_bid: amount(a.min_next_bid),
    has_reserve: a.reserve_price !== null,
    reserve_met: a.reserve_met,
    buy_now_price: a.buy_now_available ? toJsonAmount(a.buy_now_price) : null,
    soft_close_seconds: a.soft_close_seconds,
    start_time: a.start_time.toISOString(),
    end_time: a.end_time.toISOString(),
    high_bidder_id: a.high_bidder_id,
    high_bidder_name: a.high_bidder_name,
    winner_id: a.winner_id,
    winner_name: a.winner_name,
    cancel_reason: a.cancel_reason,
    end_reason: a.end_reason,
    seq: a.seq,
  };
}

export function auctionList(page: AuctionPage): AuctionList {
  return { auctions: page.auctions.map(snapshot), next_cursor: page.next_cursor };
}

/** A live notification with the bidder's name looked up. */
export type NamedBidEvent = BidEvent & { user_name: string };

/** A stored bid (replay, catch-up, list_bids) or a live notification, as every watcher sees it. */
function bidData(b: BidRow | NamedBidEvent): BidPlacedData {
  const row = 'created_at' in b;
  return {
    bid_id: row ? b.id : b.bid_id, user_id: b.user_id, user_name: b.user_name, amount: amount(b.amount), seq: b.seq,
    proxy: b.kind === 'proxy', kind: b.kind, reserve_met: b.reserve_met,
    min_next_bid: amount(b.min_next_bid), buy_now_price: toJsonAmount(b.buy_now_price), time: row ? b.created_at.toISOString() : b.time,
  };
}

export function bidPlaced(b: BidRow | NamedBidEvent): ServerMessage<'bid_placed'> {
  return message<'bid_placed'>({ type: 'bid_placed', auction_id: b.auction_id, seq: b.seq, data: bidData(b) });
}

/** Bids after a seq, a page at a time; `limit` is the page size that was asked for. */
export function bidList(rows: BidRow[], limit: number): BidList {
  return { bids: rows.map(bidData), next_since_seq: rows.length === limit ? rows.at(-1)!.seq : null };
}

/** A status notification; an end names its winner (looked up like a bidder's name). */
export function statusChanged(e: StatusEvent, winnerName: string | null = null): StatusMessage {
  const base = { auction_id: e.auction_id, seq: e.seq };
  const status = (e.status ?? 'active') as AuctionSnapshot['status'];
  const common = { status, end_time: e.end_time ?? '', time: e.time };
  switch (e.type) {
    case 'auction_started':
      return message<'auction_started'>({ ...base, type: e.type, data: common });
    case 'auction_extended':
      return message<'auction_extended'>({ ...base, type: e.type, data: {
        ...common, previous_end_time: e.previous_end_time, reason: e.reason as 'soft_close' | 'operator' | null } });
    case 'auction_ended':
      return message<'auction_ended'>({ ...base, type: e.type, data: {
        ...common, winner_id: e.winner_id ?? null, winner_name: winnerName, final_price: toJsonAmount(e.final_price), reserve_met: e.reserve_met ?? null,
        reason: (e.reason ?? null) as EndReason | null } });
    case 'auction_cancelled':
      return message<'auction_cancelled'>({ ...base, type: e.type, data: { ...common, reason: e.reason ?? null } });
  }
}

export function outbid(e: OutbidEvent): ServerMessage<'outbid'> {
  return message<'outbid'>({
    type: 'outbid', auction_id: e.auction_id, seq: e.seq,
    data: { current_price: amount(e.current_price), min_next_bid: amount(e.min_next_bid), seq: e.seq, time: e.time },
  });
}

/** An accepted bid: bid_accepted data on the socket, the REST 201/200 body. No bid_id when a leader only raised their maximum. */
export function accepted(r: BidOutcome): BidAcceptedData {
  return {
    bid_id: r.bid_id, amount: toJsonAmount(r.amount), seq: r.seq, current_price: toJsonAmount(r.current_price),
    min_next_bid: toJsonAmount(r.min_amount), duplicate: r.duplicate, time: r.created_at?.toISOString() ?? null,
    leading: r.is_leading, max_amount: toJsonAmount(r.max_amount), reserve_met: r.reserve_met,
    end_time: r.end_time?.toISOString() ?? null,
  };
}

export function bought(r: BidOutcome): BidAcceptedData & { bought: true } {
  return { ...accepted(r), bought: true };
}

/** A rejection: its reason, a sentence for people, and what would be accepted next. */
export function rejected(r: BidOutcome, asked: { amount?: string | null; maxAmount?: string | null } = {}): { message: string; data: BidRejectedData } {
  const reason = r.reason as RejectionReason;
  return {
    message: rejectionText(reason, r.min_amount),
    data: { reason, current_price: toJsonAmount(r.current_price), min_next_bid: toJsonAmount(r.min_amount),
      amount: toJsonAmount(asked.amount), max_amount: toJsonAmount(asked.maxAmount) },
  };
}

function rejectionText(reason: RejectionReason, min: string | null) {
  switch (reason) {
    case 'too_low': return `bid must be at least ${min}`;
    case 'price_limit': return `the price is the largest amount (${min}); no bid can go above it`;
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
