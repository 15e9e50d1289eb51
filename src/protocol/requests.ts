// What clients send: every inbound message and REST body, as the zod schemas the server validates with.
// Client -> server envelope, as in the original design: {type, auction_id?, data?, timestamp?} + request_id.
// The client library takes its request types from here (z.input), so a change is one edit.
import { z } from 'zod';
import { amountSchema } from './amount.ts';

const uuid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a UUID')
  .meta({ format: 'uuid' }).transform((s) => s.toLowerCase());
/** Every inbound string: Postgres text cannot hold NUL, so it is refused here rather than failing in the database. */
export const text = () => z.string().refine((s) => !s.includes('\u0000'), 'must not contain NUL (\\u0000)');
const requestId = text().min(1).max(128).optional();
const timestamp = z.number().optional();
const instant = z.string().refine(isRfc3339, 'must be an RFC 3339 time (for example 2031-02-28T12:00:00Z)')
  .meta({ format: 'date-time' });
// numbers that may come from a query string (REST) or a JSON number (socket)
const count = (min: number, max: number, def: number) => z.coerce.number<number>().int().min(min).max(max).default(def);

const base = { request_id: requestId, timestamp };

export const auctionId = uuid;
const auctionStatus = z.enum(['pending', 'active', 'ended', 'cancelled']);

export const placeBidData = z.object({ amount: amountSchema.optional(), max_amount: amountSchema.optional() }).strict()
  .refine((d) => d.amount !== undefined || d.max_amount !== undefined, 'give amount, max_amount (a proxy bid), or both')
  .meta({ id: 'PlaceBid', description: 'a typed bid (`amount`), a proxy bid up to `max_amount`, or both' });

const incrementStep = z.object({
  below: z.number().positive().max(9_999_999_999.99).optional(),
  step: z.number().positive().max(9_999_999_999.99),
}).strict();

export const itemData = z.object({ name: text().trim().min(1).max(255), description: text().max(10_000).optional() }).strict()
  .meta({ id: 'CreateItem' });

export const createAuctionData = z.object({
  item_id: uuid.optional(),
  item: itemData.optional(),
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
  .refine((d) => d.min_increment === undefined || d.increment_table === undefined, 'give min_increment or increment_table, not both')
  .meta({ id: 'CreateAuction', description: 'exactly one of item_id and item; at most one of min_increment and increment_table' });

export const listAuctionsData = z.object({
  limit: count(1, 100, 20),
  cursor: text().max(200).optional(),
  status: auctionStatus.optional(),
}).strict();

/** An auction's accepted bids after a seq, in seq order: `list_bids` data, and the REST query of GET .../bids. */
export const listBidsData = z.object({
  since_seq: count(0, Number.MAX_SAFE_INTEGER, 0),
  limit: count(1, 1000, 100),
}).strict();

const subscribeData = z.object({ since_seq: z.number().int().min(0).optional() }).strict();

export const clientMessage = z.discriminatedUnion('type', [
  z.object({ ...base, type: z.literal('subscribe'), auction_id: uuid, data: subscribeData.optional() }).strict(),
  z.object({ ...base, type: z.literal('unsubscribe'), auction_id: uuid, data: z.object({}).strict().optional() }).strict(),
  z.object({ ...base, type: z.literal('place_bid'), auction_id: uuid, data: placeBidData }).strict(),
  z.object({ ...base, type: z.literal('buy_now'), auction_id: uuid, data: z.object({}).strict().optional() }).strict(),
  z.object({ ...base, type: z.literal('create_auction'), data: createAuctionData }).strict(),
  z.object({ ...base, type: z.literal('get_auction'), auction_id: uuid }).strict(),
  z.object({ ...base, type: z.literal('list_auctions'), data: listAuctionsData.optional() }).strict(),
  z.object({ ...base, type: z.literal('list_bids'), auction_id: uuid, data: listBidsData.optional() }).strict(),
  z.object({ ...base, type: z.literal('ping'), data: z.unknown().optional() }).strict(),
  // a fresh token for the same user, before the current one's exp: the socket stays open past it
  z.object({ ...base, type: z.literal('authenticate'), data: z.object({ token: z.string().min(1).max(8192) }).strict() }).strict(),
]);

export type ClientMessage = z.infer<typeof clientMessage>;
export type ClientType = ClientMessage['type'];
export const CLIENT_TYPES: readonly ClientType[] = clientMessage.options.map((o) => o.shape.type.value);

// What a client may send, before the server's parsing (amounts as numbers or strings)
export type CreateAuctionRequest = z.input<typeof createAuctionData>;
export type ListAuctionsRequest = z.input<typeof listAuctionsData>;
export type ListBidsRequest = z.input<typeof listBidsData>;
export type PlaceBidRequest = z.input<typeof placeBidData>;
// ... and after it
export type CreateAuctionData = z.output<typeof createAuctionData>;

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|[+-](\d{2}):(\d{2}))$/i;

/** A date-time as RFC 3339 section 5.6 has it, offset required; impossible dates (Feb 30, hour 24) are refused, not shifted. */
export function isRfc3339(s: string): boolean {
  const m = RFC3339.exec(s);
  if (!m) return false;
  const [y, mo, d, h, mi, sec] = m.slice(1, 7).map(Number);
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo - 1];
  if (days === undefined || d < 1 || d > days || h > 23 || mi > 59 || sec > 59) return false;
  if (m[9] !== undefined && (Number(m[9]) > 23 || Number(m[10]) > 59)) return false;
  return !Number.isNaN(Date.parse(s));
}
