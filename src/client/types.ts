// Wire types of the auction WebSocket protocol (docs/protocol.md), as the client sees them.
// Amounts are JSON numbers with at most two decimals; times inside `data` are RFC 3339 strings.

export type AuctionStatus = 'pending' | 'active' | 'ended' | 'cancelled';

/** Bid increments: one fixed step, or a table of steps by price (`below` the price, `step` applies). */
export type Increments = { fixed: number } | { table: { below: number | null; step: number }[] };

/** An auction as in `auction_update`, `auction_created`, `get_auction` and each `auction_list` entry. */
export type AuctionSnapshot = {
  auction_id: string;
  item_id: string;
  creator_id: string;
  status: AuctionStatus;
  starting_price: number;
  current_price: number;
  min_increment: number;
  min_next_bid: number;
  start_time: string;
  end_time: string;
  high_bidder_id: string | null;
  winner_id: string | null;
  cancel_reason: string | null;
  seq: number;
  /** present on subscribe/unsubscribe/get_auction replies */
  subscribed?: boolean;
  // newer servers (issue 7); absent on older ones
  reserve_met?: boolean;
  has_reserve?: boolean;
  buy_now_price?: number | null;
  soft_close_seconds?: number;
  increments?: Increments;
  /** why it ended: `time`, `buy_now` or `operator` */
  end_reason?: string | null;
};

export type BidPlacedData = {
  bid_id: string; user_id: string; amount: number; seq: number; time: string;
  /** placed automatically for someone's proxy maximum (newer servers) */
  proxy?: boolean;
  /** how it was placed: by hand, by a proxy maximum, or as a buy-now (newer servers) */
  kind?: 'bid' | 'proxy' | 'buy_now';
  reserve_met?: boolean;
};

export type BidAcceptedData = {
  bid_id: string; amount: number; seq: number; current_price: number; min_next_bid: number;
  /** true when this request_id had already been answered: the first outcome, not a second bid */
  duplicate: boolean;
  time: string;
  // newer servers (issue 7)
  /** false when someone's proxy maximum outbid this bid at once */
  leading?: boolean;
  max_amount?: number | null;
  reserve_met?: boolean;
  /** a buy_now that bought the item */
  bought?: boolean;
  /** the auction's end after this bid (a soft close may have moved it) */
  end_time?: string;
};

export type BidRejectedData = {
  reason: string; amount?: number | null; max_amount?: number | null; current_price: number | null; min_next_bid: number | null;
};

export type AuctionStartedData = { status: AuctionStatus; end_time: string; time: string };
export type AuctionExtendedData = { status?: AuctionStatus; end_time: string; previous_end_time?: string; time: string; reason?: string | null };
export type AuctionEndedData = {
  status: AuctionStatus; winner_id: string | null; final_price: number | null; end_time: string; time: string;
  reserve_met?: boolean | null; reason?: string | null;
};
export type AuctionCancelledData = { status: AuctionStatus; reason: string | null; time: string };
export type OutbidData = { current_price: number; min_next_bid: number; seq: number; time: string };

export type AuctionList = { auctions: AuctionSnapshot[]; next_cursor: string | null };

/** Any server message: `{type, auction_id?, data?, error?, timestamp, request_id?, seq?}`. */
export type ServerMessage<T extends string = string, D = unknown> = {
  type: T;
  auction_id?: string;
  request_id?: string;
  seq?: number;
  data?: D;
  error?: { code: string; message: string };
  /** server clock, ms since the epoch */
  timestamp: number;
};

/** An event on one auction, as given to `on(...)` callbacks. */
export type AuctionEvent<T extends string, D> = ServerMessage<T, D> & {
  auction_id: string;
  data: D;
  /** set on status events the client derived from a snapshot after a reconnect (the real one was missed) */
  resumed?: boolean;
};

export type CreateAuctionInput = {
  item_id?: string;
  item?: { name: string; description?: string };
  /** omitted: now */
  start_time?: string;
  end_time: string;
  starting_price: number | string;
  min_increment?: number | string;
  // newer servers (issue 7)
  /** steps by price instead of min_increment: `step` applies below `below` (the last entry without `below`) */
  increment_table?: { below?: number; step: number }[];
  reserve_price?: number | string;
  buy_now_price?: number | string;
  soft_close_seconds?: number;
  [extra: string]: unknown;
};

export type ListAuctionsInput = { limit?: number; status?: AuctionStatus; cursor?: string };
