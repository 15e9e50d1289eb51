// What the server sends: every outbound message of the WebSocket protocol (docs/protocol.md), typed from the
// zod schemas of views.ts (the REST bodies share them). The server builds them in render.ts; the client library
// and the page read them with these types. Amounts are JSON numbers with at most two decimals; times inside
// `data` are RFC 3339 strings; `timestamp` is the server clock in ms since the epoch.
import type { z } from 'zod';
import type {
  acceptedBid, incrementStepView, auctionCancelledData, auctionEndedData, auctionExtendedData, auctionList, auctionSnapshot,
  auctionStartedData, bidList, bidView, errorBody, outbidData, rejectedBid,
} from './views.ts';

export type AuctionSnapshot = z.output<typeof auctionSnapshot>;
export type AuctionStatus = AuctionSnapshot['status'];
export type EndReason = NonNullable<AuctionSnapshot['end_reason']>;
export type Increments = AuctionSnapshot['increments'];
/** One step of an increment table: `step` applies while the price is below `below` (the last has no bound). */
export type IncrementStep = z.output<typeof incrementStepView>;
/** The reply to subscribe, unsubscribe and get_auction says whether this socket watches the auction. */
export type AuctionUpdateData = AuctionSnapshot & { subscribed?: boolean };
export type AuctionList = z.output<typeof auctionList>;
/** An accepted bid, as every subscriber hears it, as `list_bids` and REST list it. */
export type BidPlacedData = z.output<typeof bidView>;
export type BidKind = BidPlacedData['kind'];
export type BidList = z.output<typeof bidList>;
export type BidAcceptedData = z.output<typeof acceptedBid> & { bought?: true };
export type BidRejectedData = z.output<typeof rejectedBid>;
export type RejectionReason = BidRejectedData['reason'];
export type AuctionStartedData = z.output<typeof auctionStartedData>;
export type AuctionExtendedData = z.output<typeof auctionExtendedData>;
export type AuctionEndedData = z.output<typeof auctionEndedData>;
export type AuctionCancelledData = z.output<typeof auctionCancelledData>;
export type OutbidData = z.output<typeof outbidData>;
export type ErrorBody = z.output<typeof errorBody>['error'];

/** Each server message type with what it carries besides `type`, `timestamp` and `request_id`. */
export type ServerMessages = {
  auction_update: { auction_id: string; seq: number; data: AuctionUpdateData };
  auction_created: { auction_id: string; seq: number; data: AuctionSnapshot };
  auction_list: { data: AuctionList };
  bid_list: { auction_id: string; data: BidList };
  bid_placed: { auction_id: string; seq: number; data: BidPlacedData };
  /** seq is null when a leader only raised their maximum (no visible bid) */
  bid_accepted: { auction_id: string; seq: number | null; data: BidAcceptedData };
  bid_rejected: { auction_id: string; error: ErrorBody; data: BidRejectedData };
  auction_started: { auction_id: string; seq: number; data: AuctionStartedData };
  auction_extended: { auction_id: string; seq: number; data: AuctionExtendedData };
  auction_ended: { auction_id: string; seq: number; data: AuctionEndedData };
  auction_cancelled: { auction_id: string; seq: number; data: AuctionCancelledData };
  outbid: { auction_id: string; seq: number; data: OutbidData };
  pong: {};
  /** the reply to `authenticate`: the socket now closes (4001) at `expires_at` (RFC 3339) */
  authenticated: { data: { expires_at: string } };
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
