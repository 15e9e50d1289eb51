import { z } from 'zod';
import { amountSchema } from '../domain/money.ts';

// Client -> server envelope, as in the original design: {type, auction_id?, data?, timestamp?} + request_id.
const uuid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a UUID')
  .transform((s) => s.toLowerCase());
const requestId = z.string().min(1).max(128).optional();
const timestamp = z.number().optional();
const instant = z.string().refine((s) => /^\d{4}-\d{2}-\d{2}T/.test(s) && !Number.isNaN(Date.parse(s)), 'must be an RFC 3339 time');

const base = { request_id: requestId, timestamp };

// Message bodies, shared with the REST API (src/routes/rest/).
export const auctionId = uuid;
export const placeBidData = z.object({ amount: amountSchema }).strict();
export const createAuctionData = z.object({
  item_id: uuid.optional(),
  item: z.object({ name: z.string().trim().min(1).max(255), description: z.string().max(10_000).optional() }).strict().optional(),
  start_time: instant,
  end_time: instant,
  starting_price: amountSchema,
  min_increment: amountSchema.optional(),
}).strict().refine((d) => (d.item_id === undefined) !== (d.item === undefined), 'give exactly one of item_id and item');
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
  z.object({ ...base, type: z.literal('create_auction'), data: createAuctionData }).strict(),
  z.object({ ...base, type: z.literal('get_auction'), auction_id: uuid }).strict(),
  z.object({ ...base, type: z.literal('list_auctions'), data: listAuctionsData.optional() }).strict(),
  z.object({ ...base, type: z.literal('ping'), data: z.unknown().optional() }).strict(),
]);

export type ClientMessage = z.infer<typeof clientMessage>;
export const CLIENT_TYPES = ['subscribe', 'unsubscribe', 'place_bid', 'create_auction', 'get_auction', 'list_auctions', 'ping'];

/** WebSocket close codes this server uses (docs/protocol.md). */
export const CLOSE = {
  normal: 1000,
  goingAway: 1001, // server shutting down: reconnect elsewhere and resume
  policy: 1008, // origin or auth refused
  tooBig: 1009, // frame over WS_MAX_FRAME_BYTES
  slowConsumer: 4008, // send buffer over WS_MAX_BUFFERED_BYTES: reconnect and resume with since_seq
  rateLimited: 4029, // kept sending far over the rate limit
} as const;
