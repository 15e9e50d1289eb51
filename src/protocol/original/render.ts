// The original design's rendering of the wire contract: what its Go server sent, field for field. The
// envelope is its ServerMessage {type, auction_id?, data?, error?, timestamp} with `timestamp` in unix
// seconds, `error` a string, and `data` a Go map (so its keys go out sorted, as encoding/json writes them).
// Messages the original does not know (auction_started, auction_extended, outbid, bid_accepted, …) have no
// rendering here: the functions return undefined and nothing is sent.
import type { NamedAuction, BidRow } from '../../domain/auctions.ts';
import type { StatusEvent } from '../../realtime/notifications.ts';
import type { NamedBidEvent } from '../render.ts';
import { z } from 'zod';

const uuid = z.string();
const seconds = z.number().int();
/** the original had no pending status: its auctions are active from creation until they end */
const status = z.enum(['active', 'ended', 'cancelled']);

/** The outbound shapes, as the original's structs and maps declared them. */
export const originalViews = {
  envelope: z.strictObject({
    type: z.enum(['auction_update', 'auction_created', 'bid_placed', 'auction_ended', 'error', 'pong']),
    auction_id: uuid.optional(), data: z.record(z.string(), z.unknown()).optional(), error: z.string().optional(), timestamp: seconds,
  }),
  /** createAuctionResponse: auction_created and get_auction's auction_update */
  auction: z.strictObject({
    auction_id: uuid, item_id: uuid, creator_id: uuid, start_time: z.string(), end_time: z.string(),
    starting_price: z.number(), current_price: z.number(), status,
  }),
  /** the Auction struct, in list_auctions */
  listRow: z.strictObject({
    id: uuid, item_id: uuid, creator_id: uuid, start_time: z.string(), end_time: z.string(), starting_price: z.number(),
    current_price: z.number(), status, created_at: z.string(), updated_at: z.string(),
  }),
  list: z.strictObject({ auctions: z.array(z.unknown()).nullable(), count: z.number().int() }),
  subscription: z.strictObject({ status: z.enum(['subscribed', 'unsubscribed']) }),
  bidPlaced: z.strictObject({ bid_id: uuid, user_id: uuid, amount: z.number(), timestamp: seconds }),
  auctionEnded: z.strictObject({ auction_id: uuid, status, winner_id: uuid.optional(), final_price: z.number().optional() }),
  cancelled: z.strictObject({ auction_id: uuid, status }),
};

export type OriginalType = z.output<typeof originalViews.envelope>['type'];
export type OriginalMessage = z.output<typeof originalViews.envelope>;

const unix = (ms: number) => Math.floor(ms / 1000);
const amount = (v: string) => Number(v);

/** A Go map marshals with its keys sorted. */
function goMap(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** One message in the original's field order; `data` and `auction_id` only when set (omitempty). */
export function originalMessage(type: OriginalType, o: { auctionId?: string; data?: Record<string, unknown>; error?: string; at?: number } = {}): OriginalMessage {
  const m: OriginalMessage = { type } as OriginalMessage;
  if (o.auctionId) m.auction_id = o.auctionId;
  if (o.data && Object.keys(o.data).length > 0) m.data = goMap(o.data);
  if (o.error !== undefined) m.error = o.error;
  m.timestamp = unix(o.at ?? Date.now());
  return m;
}

export function originalError(text: string, auctionId?: string): OriginalMessage {
  return originalMessage('error', { auctionId, error: text });
}

/** Our statuses as the original's: pending was active there (its bids before start_time were refused as not started). */
export function originalStatus(s: string): z.output<typeof status> {
  return s === 'pending' ? 'active' : (s as z.output<typeof status>);
}

/** time.Format(time.RFC3339): whole seconds. */
const rfc3339 = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
/** time.Time's MarshalJSON (RFC3339Nano): the fraction without trailing zeros. */
const rfc3339Nano = (d: Date) => d.toISOString().replace(/\.?0+Z$/, 'Z');

/** The data of auction_created and of get_auction's auction_update. */
export function auctionData(a: NamedAuction): z.output<typeof originalViews.auction> {
  return {
    auction_id: a.id, item_id: a.item_id, creator_id: a.creator_id, start_time: rfc3339(a.start_time), end_time: rfc3339(a.end_time),
    starting_price: amount(a.starting_price), current_price: amount(a.current_price), status: originalStatus(a.status),
  };
}

/** One auction of list_auctions, as the Auction struct marshals (struct order, RFC3339Nano times). */
export function listRow(a: NamedAuction): z.output<typeof originalViews.listRow> {
  return {
    id: a.id, item_id: a.item_id, creator_id: a.creator_id, start_time: rfc3339Nano(a.start_time), end_time: rfc3339Nano(a.end_time),
    starting_price: amount(a.starting_price), current_price: amount(a.current_price), status: originalStatus(a.status),
    created_at: rfc3339Nano(a.created_at), updated_at: rfc3339Nano(a.updated_at),
  };
}

/** list_auctions' reply: a nil slice (no rows) marshals as null. */
export function auctionList(rows: NamedAuction[]): OriginalMessage {
  return originalMessage('auction_update', { data: { auctions: rows.length ? rows.map(listRow) : null, count: rows.length } });
}

export function subscription(auctionId: string, state: 'subscribed' | 'unsubscribed'): OriginalMessage {
  return originalMessage('auction_update', { auctionId, data: { status: state } });
}

/** An accepted bid as the original broadcast it: both timestamps are the bid's time in seconds. */
export function bidPlaced(b: BidRow | NamedBidEvent): OriginalMessage {
  const at = 'created_at' in b ? b.created_at.getTime() : Date.parse(b.time);
  const bidId = 'created_at' in b ? b.id : b.bid_id;
  return originalMessage('bid_placed', {
    auctionId: b.auction_id, at, data: { bid_id: bidId, user_id: b.user_id, amount: amount(b.amount), timestamp: unix(at) },
  });
}

/** The end as the original's scheduler sent it: winner_id and final_price only when there are. */
function ended(auctionId: string, winnerId: string | null | undefined, finalPrice: string | null | undefined): OriginalMessage {
  return originalMessage('auction_ended', {
    auctionId, data: { auction_id: auctionId, status: 'ended', winner_id: winnerId ?? undefined, final_price: finalPrice == null ? undefined : amount(finalPrice) },
  });
}

/** A status notification: the end, and a cancellation as an auction_update; a start or an extension has no message there. */
export function statusChanged(e: StatusEvent): OriginalMessage | undefined {
  if (e.type === 'auction_ended') return ended(e.auction_id, e.winner_id, e.final_price);
  if (e.type === 'auction_cancelled') return originalMessage('auction_update', { auctionId: e.auction_id, data: { auction_id: e.auction_id, status: 'cancelled' } });
  return undefined;
}

/** A status change missed while LISTEN was down, told from the auction read afterwards (an end or a cancellation only). */
export function missedStatus(a: NamedAuction): OriginalMessage | undefined {
  if (a.status === 'ended') return ended(a.id, a.winner_id, a.seq > 0 ? a.current_price : null);
  if (a.status === 'cancelled') return originalMessage('auction_update', { auctionId: a.id, data: { auction_id: a.id, status: 'cancelled' } });
  return undefined;
}
