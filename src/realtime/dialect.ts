// A socket's dialect (protocol/dialects.ts): how its frames are read, which handlers run them, how its errors
// are written, and whether it hears the user's own channel. Chosen once per socket at the upgrade.
import type { DialectName } from '../protocol/dialects.ts';
import { MAX_DETAILS, issueDetails, issueSummary } from '../protocol/issues.ts';
import { originalError } from '../protocol/original/render.ts';
import { originalText } from '../protocol/original/errors.ts';
import { parseOriginal } from '../protocol/original/requests.ts';
import { errorMessage } from '../protocol/render.ts';
import { CLIENT_TYPES, clientMessage, type ClientMessage } from '../protocol/requests.ts';
import type { Handlers, SessionContext } from './handlers.ts';
import type { OriginalHandlers } from './original-handlers.ts';

/** A frame that parsed: what it is (for metrics and error replies) and how to run it. */
export type Request = { type: string; requestId?: string; auctionId?: string; run(s: SessionContext): Promise<void> };

export type SocketDialect = {
  readonly name: DialectName;
  /** outbid alerts and results of the user's auctions on the user's own channel (ours only: the original had none) */
  readonly personal: boolean;
  /** the request, or the reply that says why the frame is not one (with its code, for metrics) */
  parse(text: string): Request | { refusal: string; code: string };
  /** an error reply: a failure outside a handler's own replies (rate limits, database errors, deadlines) */
  error(code: string, text: string, requestId?: string, auctionId?: string): string;
};

export function ourDialect(handlers: Handlers): SocketDialect {
  return {
    name: 'auction',
    personal: true,
    parse(text) {
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        return { refusal: JSON.stringify(errorMessage('invalid_json', 'frame is not valid JSON')), code: 'invalid_json' };
      }
      const parsed = clientMessage.safeParse(json);
      if (parsed.success) {
        const m = parsed.data;
        // the handler of this message's type (the union of handlers cannot be called with the union of messages)
        const run = handlers[m.type] as (m: ClientMessage, s: SessionContext) => Promise<void>;
        return { type: m.type, requestId: m.request_id, auctionId: 'auction_id' in m ? m.auction_id : undefined, run: (s) => run(m, s) };
      }
      const { request_id: rid, type } = (typeof json === 'object' && json !== null ? json : {}) as { request_id?: unknown; type?: unknown };
      const requestId = typeof rid === 'string' ? rid.slice(0, 128) : undefined;
      if (typeof type !== 'string' || !(CLIENT_TYPES as readonly string[]).includes(type)) {
        return { refusal: JSON.stringify(errorMessage('unknown_type', `type must be one of ${CLIENT_TYPES.join(', ')}`, requestId)), code: 'unknown_type' };
      }
      const details = issueDetails(parsed.error);
      return {
        refusal: JSON.stringify(errorMessage('invalid_message', `the message is invalid: ${issueSummary(details)}`, requestId, undefined, details.slice(0, MAX_DETAILS))),
        code: 'invalid_message',
      };
    },
    error: (code, text, requestId, auctionId) => JSON.stringify(errorMessage(code, text, requestId, auctionId)),
  };
}

/** The original design's: its envelope, its texts, its message types only; no request_id, no seq, no personal channel. */
export function originalDialect(handlers: OriginalHandlers): SocketDialect {
  return {
    name: 'original',
    personal: false,
    parse(text) {
      const p = parseOriginal(text);
      if ('refusal' in p) return { refusal: JSON.stringify(originalError(p.refusal)), code: 'invalid_message' };
      const m = p.message;
      return { type: m.type, auctionId: m.auction_id, run: (s) => handlers[m.type](m, s) };
    },
    error: (code, text, _requestId, auctionId) => JSON.stringify(originalError(originalText(code, text), auctionId)),
  };
}
