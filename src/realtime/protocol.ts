import { z } from 'zod';
import { amountSchema } from '../domain/money.ts';
import type { CreateAuctionInput } from '../domain/auctions.ts';

// Client -> server envelope, as in the original design: {type, auction_id?, data?, timestamp?} + request_id.
const uuid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a UUID')
  .transform((s) => s.toLowerCase());
const requestId = z.string().min(1).max(128).optional();
const timestamp = z.number().optional();
const instant = z.string().refine((s) => /^\d{4}-\d{2}-\d{2}T/.test(s) && !Number.isNaN(Date.parse(s)), 'must be an RFC 3339 time');

const base = { request_id: requestId, timestamp };

// Message bodies, shared with the REST API (src/routes/rest/).
export const auctionId = uuid;
export const placeBidData = z.object({ amount: amountSchema.optional(), max_amount: amountSchema.optional() }).strict()
  .refine((d) => d.amount !== undefined || d.max_amount !== undefined, 'give amount, max_amount (a proxy bid), or both');
const incrementStep = z.object({
  below: z.number().positive().max(9_999_999_999.99).optional(),
  step: z.number().positive().max(9_999_999_999.99),
}).strict();
export const createAuctionData = z.object({
  item_id: uuid.optional(),
  item: z.object({ name: z.string().trim().min(1).max(255), description: z.string().max(10_000).optional() }).strict().optional(),
  /** omitted: now */
  start_time: instant.optional(),
  end_time: instant,
  starting_price: amountSchema,
  /** a fixed increment; without it (or increment_table) eBay's steps apply */
  min_increment: amountSchema.optional(),
  increment_table: z.array(incrementStep).min(1).max(50).optional(),
  reserve_price: amountSchema.optional(),
  buy_now_price: amountSchema.optional(),
  soft_close_seconds: z.number().int().min(0).max(3600).optional(),
}).strict()
  .refine((d) => (d.item_id === undefined) !== (d.item === undefined), 'give exactly one of item_id and item')
  .refine((d) => d.min_increment === undefined || d.increment_table === undefined, 'give min_increment or increment_table, not both');

/** The create_auction body (socket or REST) as the domain's input. */
export function auctionInput(creatorId: string, d: z.infer<typeof createAuctionData>): CreateAuctionInput {
  return {
    creatorId, itemId: d.item_id, item: d.item, startTime: d.start_time, endTime: d.end_time,
    startingPrice: d.starting_price, minIncrement: d.min_increment, incrementTable: d.increment_table,
    reservePrice: d.reserve_price, buyNowPrice: d.buy_now_price, softCloseSeconds: d.soft_close_seconds,
  };
}
export const listAuctionsData = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
  cursor: z.string().max(200).optional(),
  status: z.enum(['pending', 'active', 'ended', 'cancelled']).optional(),
}).strict();

export const clientMessage = z.discriminatedUnion('type', [
  z.object({ ...base, type: z.literal('subscribe'), auction_id: uuid,
    data: z.object({ since_seq: z.number().int().min(0).optional() }).strict().optional() }).strict(),
  z.object({ ...base, type: z.literal('unsubscribe'), auction_id: uuid, data: z.object({}).strict().optional() }).strict(),
  z.object({ ...base, type: z.literal('place_bid'), auction_id: uuid,
    data: placeBidData }).strict(),
  z.object({ ...base, type: z.literal('buy_now'), auction_id: uuid, data: z.object({}).strict().optional() }).strict(),
  z.object({ ...base, type: z.literal('create_auction'), data: createAuctionData }).strict(),
  z.object({ ...base, type: z.literal('get_auction'), auction_id: uuid }).strict(),
  z.object({ ...base, type: z.literal('list_auctions'), data: listAuctionsData.optional() }).strict(),
  z.object({ ...base, type: z.literal('ping'), data: z.unknown().optional() }).strict(),
]);

export type ClientMessage = z.infer<typeof clientMessage>;
export const CLIENT_TYPES = ['subscribe', 'unsubscribe', 'place_bid', 'buy_now', 'create_auction', 'get_auction', 'list_auctions', 'ping'];

/** WebSocket close codes this server uses (docs/protocol.md). */
export const CLOSE = {
  normal: 1000,
  goingAway: 1001, // server shutting down: reconnect elsewhere and resume
  policy: 1008, // origin or auth refused
  tooBig: 1009, // frame over WS_MAX_FRAME_BYTES
  tryAgain: 1013, // a subscription could not be completed (database unreachable): reconnect and resume with since_seq
  slowConsumer: 4008, // send buffer over WS_MAX_BUFFERED_BYTES: reconnect and resume with since_seq
  rateLimited: 4029, // kept sending far over the rate limit
} as const;
