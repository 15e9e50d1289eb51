// What the database's triggers send with pg_notify (sql/), as this instance reads it. Amounts are decimal strings.

/** One accepted bid on auction:<id>, as parseAuctionNotification hands it on. */
export type BidEvent = {
  type: 'bid_placed'; auction_id: string; seq: number; bid_id: string; user_id: string; amount: string;
  kind: 'bid' | 'proxy' | 'buy_now'; reserve_met: boolean; time: string;
  /** right after this bid (auction.bid_facts in sql/) */
  min_next_bid: string; buy_now_price: string | null;
};
/** On auction:<id> for every status change and extension; the result also on the seller's and winner's user:<id>. */
export type StatusEvent = {
  type: 'auction_started' | 'auction_ended' | 'auction_cancelled' | 'auction_extended';
  auction_id: string; seq: number; status?: string; winner_id?: string | null; final_price?: string | null;
  reserve_met?: boolean | null; reason?: string | null; end_time?: string; previous_end_time?: string; time: string;
};
/** On user:<id> of the previous high bidder: someone took the lead. */
export type OutbidEvent = {
  type: 'outbid'; auction_id: string; seq: number; current_price: string; min_next_bid: string; time: string;
};
/** On auction:<id> for the bids one INSERT added (a batch): their events in seq order, at most 16 a payload. */
type BidsEvent = { type: 'bids_placed'; auction_id: string; bids: BidEvent[] };
export type AuctionEvent = BidEvent | StatusEvent;
export type PersonalEvent = StatusEvent | OutbidEvent;

/** The payload's JSON, or undefined when it is not JSON (logged by the caller). */
export function parseNotification<T extends AuctionEvent | PersonalEvent | BidsEvent>(payload: string): T | undefined {
  try {
    return JSON.parse(payload) as T;
  } catch {
    return undefined;
  }
}

/** An auction channel's payload as events, one per bid and in seq order, or undefined when it is not JSON. */
export function parseAuctionNotification(payload: string): AuctionEvent[] | undefined {
  const e = parseNotification<AuctionEvent | BidsEvent>(payload);
  if (e === undefined) return undefined;
  return e.type === 'bids_placed' ? e.bids : [e];
}
