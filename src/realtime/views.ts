import { z, type ZodError } from 'zod';

// What the server sends (REST bodies, the socket's `data`), as zod schemas. The REST routes declare them as
// their responses: the OpenAPI document shows them, and the REST serializer checks each response against them.
// Objects are strict, so a field the schema does not name fails the response instead of being dropped.

/** A named component of the OpenAPI document (zod's global registry holds the name and the description). */
const named = <T extends z.ZodType>(schema: T, id: string, description: string) => schema.meta({ id, description });

// formats for the document, not checks: these come from uuid and timestamptz columns
const id = z.string().meta({ format: 'uuid' });
const amount = z.number().describe('an amount: a JSON number with at most two decimals');
const time = z.string().meta({ format: 'date-time', description: 'RFC 3339, UTC' });

const incrementStepView = z.strictObject({
  below: z.number().optional().describe('the step applies while the price is below this; absent on the last step'),
  step: z.number(),
});

export const auctionSnapshot = named(z.strictObject({
  auction_id: id,
  item_id: id,
  creator_id: id,
  status: z.enum(['pending', 'active', 'ended', 'cancelled']),
  starting_price: amount,
  current_price: amount,
  min_increment: amount.nullable().describe('the fixed increment; null when a table of steps applies'),
  increments: z.union([z.strictObject({ fixed: amount }), z.strictObject({ table: z.array(incrementStepView) })]),
  min_next_bid: amount.describe('the lowest bid that would be accepted now'),
  has_reserve: z.boolean(),
  reserve_met: z.boolean(),
  buy_now_price: amount.nullable().describe('null when there is none or it is no longer offered'),
  soft_close_seconds: z.number().int(),
  start_time: time,
  end_time: time,
  high_bidder_id: id.nullable(),
  winner_id: id.nullable(),
  cancel_reason: z.string().nullable(),
  end_reason: z.enum(['time', 'buy_now', 'operator']).nullable(),
  seq: z.number().int().describe("the auction's count of accepted bids"),
}), 'AuctionSnapshot', "An auction's public state. Never the leader's maximum.");

export const auctionList = named(z.strictObject({
  auctions: z.array(auctionSnapshot),
  next_cursor: z.string().nullable().describe('pass it back as `cursor` for the next page; null on the last page'),
}), 'AuctionList', 'A page of auctions, newest first.');

const bidEntry = named(z.strictObject({
  bid_id: id,
  user_id: id,
  amount,
  seq: z.number().int(),
  kind: z.enum(['bid', 'proxy', 'buy_now']),
  time,
}), 'Bid', 'An accepted bid from the bid log.');

export const bidList = named(z.strictObject({
  bids: z.array(bidEntry),
  next_since_seq: z.number().int().nullable().describe('pass it back as `since_seq` for the next page; null on the last page'),
}), 'BidList', "An auction's accepted bids, by seq.");

export const acceptedBid = named(z.strictObject({
  bid_id: id.nullable().describe('null when the leader raised their maximum without a visible bid'),
  amount: amount.nullable(),
  seq: z.number().int().nullable(),
  current_price: amount.nullable(),
  min_next_bid: amount.nullable(),
  duplicate: z.boolean().describe('true for a retry of a bid already placed with this Idempotency-Key'),
  time: time.nullable(),
  leading: z.boolean().nullable(),
  max_amount: amount.nullable(),
  reserve_met: z.boolean().nullable(),
  end_time: time.nullable(),
}), 'AcceptedBid', 'The outcome of an accepted bid (the socket sends it as `bid_accepted` data).');

export const boughtBid = named(acceptedBid.extend({ bought: z.literal(true) }), 'BuyNowResult', 'The outcome of a buy-now.');

export const itemView = named(z.strictObject({
  id,
  name: z.string(),
  description: z.string(),
  owner_id: id,
}), 'Item', 'An item that auctions sell.');

/** An error lists at most this many details (its message counts the rest). */
export const MAX_DETAILS = 20;

const issueDetail = z.strictObject({
  path: z.string().describe('where in the request, as a dotted path: `body.item.name`, `query.limit`, `data.amount`'),
  message: z.string(),
});

export const errorBody = named(z.strictObject({
  error: z.strictObject({
    code: z.string().describe('machine-readable (docs/protocol.md lists them)'),
    message: z.string().describe('one plain sentence for people'),
    details: z.array(issueDetail).max(MAX_DETAILS).optional().describe('each invalid field, on validation errors'),
  }),
}), 'Error', 'Every error answer has this shape.');

export const bidRejection = named(errorBody.extend({
  reason: z.string().describe('the same as error.code'),
  current_price: amount.nullable(),
  min_next_bid: amount.nullable(),
}), 'BidRejection', 'A rejected bid: error.code is the reason; min_next_bid says what would be accepted.');

export type IssueDetail = z.infer<typeof issueDetail>;

/** Each zod issue as {path, message}: an unknown key gets its own path, a root issue the prefix (or ''). */
export function issueDetails(err: ZodError, prefix: string[] = []): IssueDetail[] {
  return err.issues.flatMap((issue) => {
    const at = [...prefix, ...issue.path.map(segment)];
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ path: [...at, segment(key)].join('.'), message: 'is not a known field' }));
    }
    return [{ path: at.join('.'), message: issue.message }];
  });
}

/** A key as sent may hold anything: keep the path one short line. */
function segment(key: PropertyKey) {
  return String(key).replace(/[\u0000-\u001f\u007f]/g, '?').slice(0, 64);
}

/** The details as one line: `data.amount: ...; data.foo: ...` (the first few). */
export function issueSummary(details: IssueDetail[], max = 3): string {
  const shown = details.slice(0, max).map((d) => (d.path ? `${d.path}: ${d.message}` : d.message)).join('; ');
  return details.length > max ? `${shown}; and ${details.length - max} more` : shown;
}
