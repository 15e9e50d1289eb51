// The original design's error texts (its internal/domain/shared/errors.go and the wrapping in client.go), and
// the one table that says which text each of our error codes and bid rejection reasons is sent as in its
// dialect. Our rules that the original lacks (the seller cannot bid, item ownership, limits) keep a clear text
// of their own.

export const TEXT = {
  invalidFormat: 'invalid message format',
  validationFailed: 'message validation failed',
  messageTypeRequired: 'message type is required',
  unknownMessageType: 'unknown message type',
  auctionIdRequired: 'auction_id is required',
  validAmountRequired: 'valid amount is required',
  itemIdRequired: 'item_id is required',
  invalidItemIdFormat: 'invalid item_id format',
  startTimeRequired: 'start_time is required',
  endTimeRequired: 'end_time is required',
  startingPriceRequired: 'starting_price is required',
  auctionNotFound: 'auction not found',
  notAcceptingBids: 'auction is not accepting bids',
  notStarted: 'auction not started',
  startInPast: 'start time cannot be in the past',
  endBeforeStart: 'end time must be after start time',
  startingPriceInvalid: 'starting price must be greater than 0',
  itemInAuction: 'item is already in an active auction',
  bidTooLow: 'bid amount must be higher than current highest bid',
  bidBelowStarting: 'bid amount must be higher than starting price',
  bidAmountInvalid: 'bid amount must be greater than 0',
  itemNotFound: 'item not found',
  userNotFound: 'user not found',
  invalidTimeFormat: 'invalid time format',
  invalidRequest: 'invalid request',
  notSubscribed: 'user not subscribed to auction',
  databaseQuery: 'database query failed',
} as const;

/** Our error codes (db/errors.ts, the session's own) and bid rejection reasons, as the original's texts. */
const BY_CODE: Record<string, string> = {
  auction_not_found: TEXT.auctionNotFound,
  not_started: TEXT.notStarted,
  ended: TEXT.notAcceptingBids,
  cancelled: TEXT.notAcceptingBids,
  invalid_state: TEXT.notAcceptingBids,
  too_low: TEXT.bidTooLow,
  invalid_amount: TEXT.bidAmountInvalid,
  item_not_found: TEXT.itemNotFound,
  user_not_found: TEXT.userNotFound,
  item_has_open_auction: TEXT.itemInAuction,
  invalid_argument: TEXT.invalidRequest,
  internal: TEXT.databaseQuery,
  // ours alone: a clear sentence each
  own_auction: 'the seller cannot bid on their own auction',
  not_item_owner: 'only the owner of this item may auction it',
  price_limit: 'the price is the largest amount; no bid can go above it',
  outcome_unknown: 'no answer in time; the bid may or may not have been placed',
  rate_limited: 'rate limited: too many messages',
  binary_not_supported: 'send JSON text frames',
  too_many_subscriptions: 'too many subscriptions on this socket',
};

/** The text a client of the original dialect reads for one of our codes; `fallback` for a code the table lacks. */
export function originalText(code: string, fallback: string): string {
  return BY_CODE[code] ?? fallback;
}
