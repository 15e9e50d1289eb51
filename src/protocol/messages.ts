// What the server sends: every outbound message of the WebSocket protocol (docs/protocol.md) and the REST
// bodies that share their shapes. The server builds them in render.ts; the client library and the page
// read them with these types. Amounts are JSON numbers with at most two decimals; times inside `data`
// are RFC 3339 strings; `timestamp` is the server clock in ms since the epoch.

export type AuctionStatus = 'pending' | 'active' | 'ended' | 'cancelled';
export type BidKind = 'bid' | 'proxy' | 'buy_now';
export type EndReason = 'time' | 'operator' | 'buy_now';

/** One step of an increment table: `step` applies while the price is below `below` (the last has no bound). */
export type IncrementStep = { below?: number; step: number };
/** Bid increments: one fixed step, or a table of steps by price. */
export type Increments = { fixed: number } | { table: IncrementStep[] };

/** An auction as in `auction_update`, `auction_created`, `get_auction`, each `auction_list` entry and REST. */
export type AuctionSnapshot = {
  auction_id: string;
  item_id: string;
  creator_id: string;
  status: AuctionStatus;
  starting_price: number;
  current_price: number;
  /** null with an increment table */
  min_increment: number | null;
  increments: Increments;
  min_next_bid: number;
  has_reserve: boolean;
  reserve_met: boolean;
  /** null when there is none or it is no longer offered */
  buy_now_price: number | null;
  soft_close_seconds: number;
  start_time: string;
  end_time: string;
  high_bidder_id: string | null;
  winner_id: string | null;
  cancel_reason: string | null;
  end_reason: EndReason | null;
  seq: number;
};

/** The reply to subscribe, unsubscribe and get_auction says whether this socket watches the auction. */
export type AuctionUpdateData = AuctionSnapshot & { subscribed?: boolean };

/** An accepted bid, as every subscriber hears it, as `list_bids` and REST list it. */
export type BidPlacedData = {
  bid_id: string;
  user_id: string;
  amount: number;
  seq: number;
  /** placed automatically for someone's proxy maximum */
  proxy: boolean;
  kind: BidKind;
  reserve_met: boolean;
  /** commit time */
  time: string;
};

export type BidAcceptedData = {
  bid_id: string;
  amount: number;
  seq: number;
  current_price: number;
  /** null after a buy-now: the auction ended */
  min_next_bid: number | null;
  /** true when this request_id had already been answered: the first outcome, not a second bid */
  duplicate: boolean;
  time: string;
  /** false when someone's proxy maximum outbid this bid at once */
  leading: boolean;
  max_amount: number | null;
  reserve_met: boolean;
  /** the auction's end after this bid (a soft close may have moved it) */
  end_time: string;
  /** a buy_now that bought the item */
  bought?: true;
};

export type RejectionReason =
  | 'auction_not_found' | 'not_started' | 'ended' | 'cancelled' | 'too_low' | 'own_auction' | 'invalid_amount'
  | 'invalid_max_amount' | 'max_not_raised' | 'invalid_request_id' | 'request_id_conflict';

export type BidRejectedData = {
  reason: RejectionReason;
  current_price: number | null;
  min_next_bid: number | null;
  amount: number | null;
  max_amount: number | null;
};

export type AuctionStartedData = { status: AuctionStatus; end_time: string; time: string };
export type AuctionExtendedData = {
  status: AuctionStatus; end_time: string; time: string; previous_end_time?: string; reason?: 'soft_close' | 'operator' | null;
};
export type AuctionEndedData = {
  status: AuctionStatus; end_time: string; time: string;
  /** null when there were no bids or the reserve was not met */
  winner_id: string | null;
  /** null when there were no bids */
  final_price: number | null;
  reserve_met?: boolean | null;
  reason?: EndReason | null;
};
export type AuctionCancelledData = { status: AuctionStatus; end_time: string; time: string; reason: string | null };
export type OutbidData = { current_price: number; min_next_bid: number; seq: number; time: string };

export type AuctionList = { auctions: AuctionSnapshot[]; next_cursor: string | null };
export type BidList = { bids: BidPlacedData[]; next_since_seq: number | null };

export type ErrorBody = { code: string; message: string };

/** Each server message type with what it carries besides `type`, `timestamp` and `request_id`. */
export type ServerMessages = {
  auction_update: { auction_id: string; seq: number; data: AuctionUpdateData };
  auction_created: { auction_id: string; seq: number; data: AuctionSnapshot };
  auction_list: { data: AuctionList };
  bid_list: { auction_id: string; data: BidList };
  bid_placed: { auction_id: string; seq: number; data: BidPlacedData };
  bid_accepted: { auction_id: string; seq: number; data: BidAcceptedData };
  bid_rejected: { auction_id: string; error: ErrorBody; data: BidRejectedData };
  auction_started: { auction_id: string; seq: number; data: AuctionStartedData };
  auction_extended: { auction_id: string; seq: number; data: AuctionExtendedData };
  auction_ended: { auction_id: string; seq: number; data: AuctionEndedData };
  auction_cancelled: { auction_id: string; seq: number; data: AuctionCancelledData };
  outbid: { auction_id: string; seq: number; data: OutbidData };
  pong: {};
  error: { auction_id?: string; error: ErrorBody };
};

export type ServerMessageType = keyof ServerMessages;
export type StatusType = 'auction_started' | 'auction_extended' | 'auction_ended' | 'auction_cancelled';
export const STATUS_TYPES: readonly StatusType[] = ['auction_started', 'auction_extended', 'auction_ended', 'auction_cancelled'];

/** Any server message, or the one of type T: `{type, timestamp, request_id?, auction_id?, seq?, data?, error?}`. */
export type ServerMessage<T extends ServerMessageType = ServerMessageType> = {
  [K in T]: { type: K; timestamp: number; request_id?: string } & ServerMessages[K];
}[T];

export type StatusMessage = ServerMessage<StatusType>;
