// The one place that turns database errors into client errors (codes listed in docs/error_codes.md).

export type ClientError = { code: string; message: string; status: number };

/** An error meant for the client as it is: a rule of the service, not a database failure. */
export class ClientFacingError extends Error {
  readonly code: string;
  readonly status: number;
  constructor(code: string, status: number, message: string) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

// Our own AU0xx codes carry a sentence written for clients (the RAISE in sql/); Postgres's own messages
// name tables, types and values, so their codes get a fixed sentence instead.
const BY_SQLSTATE: Record<string, { code: string; status: number; message?: string }> = {
  AU001: { code: 'invalid_state', status: 409 },
  AU002: { code: 'immutable_field', status: 409 },
  AU003: { code: 'append_only', status: 409 },
  AU004: { code: 'invariant_violation', status: 409 },
  AU010: { code: 'auction_not_found', status: 404 },
  AU011: { code: 'ended', status: 409 },
  AU012: { code: 'cancelled', status: 409 },
  AU013: { code: 'not_started', status: 409 },
  AU014: { code: 'invalid_argument', status: 400 },
  AU015: { code: 'buy_now_unavailable', status: 409 },
  AU016: { code: 'not_item_owner', status: 403, message: 'only the owner of this item may auction it' },
  AU017: { code: 'item_not_found', status: 404 },
  '22P02': { code: 'invalid_argument', status: 400, message: 'a value is not of the expected type (for example a malformed id)' },
  '22003': { code: 'invalid_argument', status: 400, message: 'a number is out of range' },
  '22007': { code: 'invalid_argument', status: 400, message: 'a time is not valid' },
  '22008': { code: 'invalid_argument', status: 400, message: 'a time is out of range' },
  '22001': { code: 'invalid_argument', status: 400, message: 'a text is too long' },
  '23514': { code: 'invalid_argument', status: 400, message: 'a value breaks a rule of the data (for example an empty name)' },
};

const BY_CONSTRAINT: Record<string, { code: string; status: number; message: string }> = {
  auctions_one_open_per_item: { code: 'item_has_open_auction', status: 409, message: 'this item already has an open auction' },
  auctions_end_after_start: { code: 'invalid_argument', status: 400, message: 'end_time must be after start_time' },
  auctions_item_id_fkey: { code: 'item_not_found', status: 404, message: 'no such item' },
  auctions_creator_id_fkey: { code: 'user_not_found', status: 404, message: 'no such user' },
  items_owner_id_fkey: { code: 'user_not_found', status: 404, message: 'no such user' },
  bids_user_id_fkey: { code: 'user_not_found', status: 404, message: 'no such user' },
  auctions_high_bidder_id_fkey: { code: 'user_not_found', status: 404, message: 'no such user' },
};

type PgLike = { code?: unknown; constraint_name?: unknown; message?: unknown };

/** Maps a postgres.js error (or a ClientFacingError) to a client error; anything unknown is `internal` and should be logged. */
export function toClientError(err: unknown): ClientError {
  if (err instanceof ClientFacingError) return { code: err.code, status: err.status, message: err.message };
  const e = (err ?? {}) as PgLike;
  const constraint = typeof e.constraint_name === 'string' ? BY_CONSTRAINT[e.constraint_name] : undefined;
  if (constraint) return { code: constraint.code, status: constraint.status, message: constraint.message };
  const code = typeof e.code === 'string' ? BY_SQLSTATE[e.code] : undefined;
  if (code) return { code: code.code, status: code.status, message: code.message ?? (typeof e.message === 'string' ? e.message : code.code) };
  return { code: 'internal', status: 500, message: 'internal error' };
}

// postgres.js's own codes for a connection that went away, the socket's errno, and Postgres's
// class 08 (connection exception) and 57P01-57P03 (the server shut down or killed the backend)
const CONNECTION_LOST = new Set(['CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'ECONNRESET', 'EPIPE', '57P01', '57P02', '57P03']);

/** The connection died under a statement: whether its transaction committed is not known. */
export function isConnectionLoss(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (CONNECTION_LOST.has(code) || code.startsWith('08'));
}
