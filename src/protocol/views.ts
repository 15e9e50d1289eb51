import { z } from 'zod';
import { MAX_DETAILS, issueDetail } from './issues.ts';

// What the server sends (REST bodies, the socket's `data`), as zod schemas: the one description of every
// outbound shape. The REST routes declare them as their responses (the OpenAPI document shows them, and the
// REST serializer checks each response against them); messages.ts gives their types to the server's
// renderer, the client library and the page. Objects are strict, so a field the schema does not name fails
// the response instead of being dropped.

/** A named component of the OpenAPI document (zod's global registry holds the name and the description). */
const named = <T extends z.ZodType>(schema: T, id: string, description: string) => schema.meta({ id, description });

// formats for the document, not checks: these come from uuid and timestamptz columns
const id = z.string().meta({ format: 'uuid' });
const amount = z.number().describe('an amount: a JSON number with at most two decimals');
const time = z.string().meta({ format: 'date-time', description: 'RFC 3339, UTC' });

export const incrementStepView = z.strictObject({
  below: z.number().optional().describe('the step applies while the price is below this; absent on the last step'),
  step: z.number(),
});

export const auctionSnapshot = named(z.strictObject({
  auction_id: id,
  item_id: id,
  item_name: z.string(),
  item_description: z.string(),
  creator_id: id,
  creator_name: z.string().describe("the seller's display name"),
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
  high_bidder_name: z.string().nullable(),
  winner_id: id.nullable(),
  winner_name: z.string().nullable(),
  cancel_reason: z.string().nullable(),
  end_reason: z.enum(['time', 'buy_now', 'operator']).nullable(),
  seq: z.number().int().describe("the auction's count of accepted bids"),
}), 'AuctionSnapshot', "An auction's public state. Never the leader's maximum.");

export const auctionList = named(z.strictObject({
  auctions: z.array(auctionSnapshot),
  next_cursor: z.string().nullable().describe('pass it back as `cursor` for the next page; null on the last page'),
}), 'AuctionList', 'A page of auctions, newest first.');

export const bidView = named(z.strictObject({
  bid_id: id,
  user_id: id,
  user_name: z.string().describe("the bidder's display name"),
  amount,
  seq: z.number().int(),
  proxy: z.boolean().describe('placed automatically for someone\'s maximum (kind `proxy`)'),
  kind: z.enum(['bid', 'proxy', 'buy_now']),
  reserve_met: z.boolean().describe('this bid reaches the reserve (true without one)'),
  min_next_bid: amount.describe('the lowest bid that would be accepted right after this one'),
  buy_now_price: amount.nullable().describe('the buy-now price while still offered after this bid, else null'),
  time: time.describe('commit time'),
}), 'Bid', 'An accepted bid: from the bid log, and as every subscriber hears it (`bid_placed` data).');

export const bidList = named(z.strictObject({
  bids: z.array(bidView),
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

const rejectionReason = z.enum([
  'auction_not_found', 'not_started', 'ended', 'cancelled', 'too_low', 'price_limit', 'own_auction', 'invalid_amount',
  'invalid_max_amount', 'max_not_raised', 'invalid_request_id', 'request_id_conflict']);

/** A refused bid's facts: the socket's `bid_rejected` data, and the REST rejection beside its error. */
export const rejectedBid = z.strictObject({
  reason: rejectionReason.describe('the same as error.code'),
  current_price: amount.nullable(),
  min_next_bid: amount.nullable().describe('what would be accepted now'),
  amount: amount.nullable().describe('the amount the bid asked for'),
  max_amount: amount.nullable().describe('the maximum the bid asked for'),
});

const status = z.enum(['pending', 'active', 'ended', 'cancelled']);
export const auctionStartedData = z.strictObject({ status, end_time: time, time });
export const auctionExtendedData = z.strictObject({
  status, end_time: time, time, previous_end_time: time.optional(), reason: z.enum(['soft_close', 'operator']).nullable().optional(),
});
export const auctionEndedData = z.strictObject({
  status, end_time: time, time,
  winner_id: id.nullable().describe('null when there were no bids or the reserve was not met'),
  winner_name: z.string().nullable(),
  final_price: amount.nullable().describe('null when there were no bids'),
  reserve_met: z.boolean().nullable().optional(),
  reason: z.enum(['time', 'buy_now', 'operator']).nullable().optional(),
});
export const auctionCancelledData = z.strictObject({ status, end_time: time, time, reason: z.string().nullable() });
export const outbidData = z.strictObject({ current_price: amount, min_next_bid: amount, seq: z.number().int(), time });

export const itemView = named(z.strictObject({
  id,
  name: z.string(),
  description: z.string(),
  owner_id: id,
}), 'Item', 'An item that auctions sell.');

export const errorBody = named(z.strictObject({
  error: z.strictObject({
    code: z.string().describe('machine-readable (docs/protocol.md lists them)'),
    message: z.string().describe('one plain sentence for people'),
    details: z.array(issueDetail).max(MAX_DETAILS).optional().describe('each invalid field, on validation errors'),
  }),
}), 'Error', 'Every error answer has this shape.');

export const bidRejection = named(errorBody.extend(rejectedBid.shape),
  'BidRejection', 'A rejected bid: error.code is the reason; min_next_bid says what would be accepted.');
