import { toJsonAmount } from '../domain/money.ts';
import type { BidRow } from '../domain/auctions.ts';

// Server -> client envelope, as in the original design: {type, auction_id?, data?, error?, timestamp}
// plus request_id (echoed) and seq (on bid events). timestamp is milliseconds since the epoch.
export type ServerMessage = {
  type: string;
  auction_id?: string;
  request_id?: string;
  seq?: number;
  data?: unknown;
  error?: { code: string; message: string };
  timestamp: number;
};

export function message(m: Omit<ServerMessage, 'timestamp'>): ServerMessage {
  return { ...m, timestamp: Date.now() };
}

/** Notification payloads, as the trigger functions in sql/functions/notify.sql build them. */
export type BidEvent = {
  type: 'bid_placed'; auction_id: string; seq: number; bid_id: string; user_id: string; amount: string;
  kind: 'bid' | 'proxy' | 'buy_now'; reserve_met: boolean; time: string;
};
export type StatusEvent = {
  type: 'auction_started' | 'auction_ended' | 'auction_cancelled' | 'auction_extended';
  auction_id: string; seq: number; status?: string; winner_id?: string | null; final_price?: string | null;
  reserve_met?: boolean | null; reason?: string | null; end_time?: string; previous_end_time?: string; time: string;
};
/** To the previous high bidder's own channel: someone took the lead. */
export type OutbidEvent = {
  type: 'outbid'; auction_id: string; seq: number; current_price: string; min_next_bid: string; time: string;
};
export type AuctionEvent = BidEvent | StatusEvent;
export type PersonalEvent = StatusEvent | OutbidEvent;

export function bidPlaced(b: BidEvent | BidRow): ServerMessage {
  const isRow = 'id' in b;
  const time = isRow ? (b as BidRow).created_at.toISOString() : (b as BidEvent).time;
  return message({
    type: 'bid_placed',
    auction_id: b.auction_id,
    seq: b.seq,
    data: {
      bid_id: isRow ? (b as BidRow).id : (b as BidEvent).bid_id, user_id: b.user_id, amount: toJsonAmount(b.amount),
      seq: b.seq, proxy: b.kind === 'proxy', kind: b.kind, reserve_met: b.reserve_met, time,
    },
  });
}

export function statusChanged(e: StatusEvent): ServerMessage {
  const data: Record<string, unknown> = { status: e.status, end_time: e.end_time, time: e.time };
  if (e.type === 'auction_ended') {
    Object.assign(data, { winner_id: e.winner_id ?? null, final_price: toJsonAmount(e.final_price), reserve_met: e.reserve_met ?? null, reason: e.reason ?? null });
  }
  if (e.type === 'auction_cancelled') data.reason = e.reason;
  if (e.type === 'auction_extended') Object.assign(data, { previous_end_time: e.previous_end_time, reason: e.reason });
  return message({ type: e.type, auction_id: e.auction_id, seq: e.seq, data });
}

export function outbid(e: OutbidEvent): ServerMessage {
  return message({
    type: 'outbid', auction_id: e.auction_id, seq: e.seq,
    data: { current_price: toJsonAmount(e.current_price), min_next_bid: toJsonAmount(e.min_next_bid), seq: e.seq, time: e.time },
  });
}

/** A message from the user's own channel: `outbid` always, results only when not already subscribed. */
export function personalMessage(e: PersonalEvent, subscribed: boolean): ServerMessage | undefined {
  if (e.type === 'outbid') return outbid(e);
  return subscribed ? undefined : statusChanged(e);
}
