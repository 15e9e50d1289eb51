// Errors a request can reject with. Each has a stable `code` to branch on.
import type { BidRejectedData } from '../protocol/messages.ts';

/** The server answered the request with `error: {code, message}` (docs/protocol.md, error codes). */
export class AuctionError extends Error {
  readonly code: string;
  readonly requestId: string | undefined;
  constructor(code: string, message: string, requestId?: string) {
    super(message);
    this.name = 'AuctionError';
    this.code = code;
    this.requestId = requestId;
  }
}

/** A bid the server judged and refused: `reason` is the rejection reason (too_low, ended, ...). */
export class BidRejectedError extends AuctionError {
  readonly reason: string;
  readonly minNextBid: number | null;
  readonly currentPrice: number | null;
  readonly amount: number | null | undefined;
  constructor(data: BidRejectedData, message: string, requestId?: string) {
    super(data.reason, message, requestId);
    this.name = 'BidRejectedError';
    this.reason = data.reason;
    this.minNextBid = data.min_next_bid ?? null;
    this.currentPrice = data.current_price ?? null;
    this.amount = data.amount;
  }
}

/**
 * No answer in time (code `timeout`), or the connection is gone for good (code `connection_closed`).
 * For a bid the outcome is unknown: retry with the same requestId, which cannot bid twice.
 */
export class RequestFailedError extends AuctionError {
  constructor(code: 'timeout' | 'connection_closed' | 'outcome_unknown', message: string, requestId?: string) {
    super(code, message, requestId);
    this.name = 'RequestFailedError';
  }
}
