// What a client of the original design sends, read as its Go server read it: the frame decoded into
// ClientMessage {type, auction_id (a UUID), data (any object), timestamp (int64)} with unknown keys ignored
// and nulls as absent, then checked per type in the same order, refused with the same texts
// (`invalid message format: …`, `message validation failed: …`).
import { z } from 'zod';
import { amountSchema } from '../amount.ts';
import { TEXT } from './errors.ts';

export type OriginalRequestType = 'subscribe' | 'unsubscribe' | 'place_bid' | 'create_auction' | 'get_auction' | 'list_auctions' | 'ping';
const TYPES: readonly OriginalRequestType[] = ['subscribe', 'unsubscribe', 'place_bid', 'create_auction', 'get_auction', 'list_auctions', 'ping'];
const NEEDS_AUCTION: ReadonlySet<string> = new Set(['subscribe', 'unsubscribe', 'place_bid', 'get_auction']);

export type OriginalRequest = { type: OriginalRequestType; auction_id?: string; data: Record<string, unknown> };

/** Go's name for a JSON value's kind, as its decoder's errors say it. */
const kind = (v: unknown) => (Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v === 'boolean' ? 'bool' : typeof v);
const mismatch = (v: unknown, field: string, goType: string) =>
  `json: cannot unmarshal ${kind(v)}${kind(v) === 'number' && !Number.isSafeInteger(v) ? ` ${String(v)}` : ''} into Go struct field ClientMessage.${field} of type ${goType}`;

const HEX32 = /^[0-9a-f]{32}$/i;
const DASHED = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A UUID in the forms Go's uuid.Parse takes (plain, {braced}, urn:uuid:, 32 hex digits), lowercased; or its error text. */
export function parseGoUuid(s: string): { uuid: string } | { error: string } {
  let t = s;
  if (t.length === 45 && t.slice(0, 9).toLowerCase() === 'urn:uuid:') t = t.slice(9);
  else if (t.length === 38 && t.startsWith('{') && t.endsWith('}')) t = t.slice(1, -1);
  if (t.length === 32 && HEX32.test(t)) t = `${t.slice(0, 8)}-${t.slice(8, 12)}-${t.slice(12, 16)}-${t.slice(16, 20)}-${t.slice(20)}`;
  if (t.length !== 36) return { error: `invalid UUID length: ${s.length}` };
  return DASHED.test(t) ? { uuid: t.toLowerCase() } : { error: 'invalid UUID format' };
}

// the envelope, lenient as Go's decoder into the struct: other keys are dropped, null is the zero value
const envelope = z.object({
  type: z.string().nullish(),
  auction_id: z.string().nullish(),
  data: z.record(z.string(), z.unknown()).nullish(),
  timestamp: z.number().int().min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER).nullish(),
});

const GO_TYPES: Record<string, string> = {
  type: 'ws.MessageType', auction_id: 'uuid.UUID', data: 'map[string]interface {}', timestamp: 'int64',
};

export type Parsed = { message: OriginalRequest } | { refusal: string };

/** A frame as the original server's ParseClientMessage and Validate took it. */
export function parseOriginal(text: string): Parsed {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { refusal: `${TEXT.invalidFormat}: failed to parse client message: ${(err as Error).message}` };
  }
  if (json !== null && (typeof json !== 'object' || Array.isArray(json))) {
    return { refusal: `${TEXT.invalidFormat}: failed to parse client message: json: cannot unmarshal ${kind(json)} into Go value of type ws.ClientMessage` };
  }
  const parsed = envelope.safeParse(json ?? {});
  if (!parsed.success) {
    const field = String(parsed.error.issues[0]!.path[0]);
    const value = (json as Record<string, unknown>)[field];
    return { refusal: `${TEXT.invalidFormat}: failed to parse client message: ${mismatch(value, field, GO_TYPES[field]!)}` };
  }
  const m = parsed.data;
  let auctionId: string | undefined;
  if (m.auction_id != null) {
    const u = parseGoUuid(m.auction_id);
    if ('error' in u) return { refusal: `${TEXT.invalidFormat}: failed to parse client message: ${u.error}` };
    auctionId = u.uuid === '00000000-0000-0000-0000-000000000000' ? undefined : u.uuid;
  }
  if (!m.type) return { refusal: `${TEXT.invalidFormat}: ${TEXT.messageTypeRequired}` };
  const data = m.data ?? {};
  const invalid = validate(m.type, auctionId, data);
  if (invalid) return { refusal: `${TEXT.validationFailed}: ${invalid}` };
  return { message: { type: m.type as OriginalRequestType, auction_id: auctionId, data } };
}

const positiveNumber = z.number().positive();

/** The original's per-type checks, in its order; the handlers check the values' types further. */
function validate(type: string, auctionId: string | undefined, data: Record<string, unknown>): string | undefined {
  if (!(TYPES as readonly string[]).includes(type)) return TEXT.unknownMessageType;
  if (NEEDS_AUCTION.has(type) && !auctionId) return TEXT.auctionIdRequired;
  if (type === 'place_bid' && !positiveNumber.safeParse(data.amount).success) return TEXT.validAmountRequired;
  if (type === 'create_auction') {
    for (const [field, text] of [['item_id', TEXT.itemIdRequired], ['start_time', TEXT.startTimeRequired],
      ['end_time', TEXT.endTimeRequired], ['starting_price', TEXT.startingPriceRequired]] as const) {
      if (data[field] == null) return text;
    }
  }
  return undefined;
}

/** An amount the original took as a float64, as our exact decimal text; undefined beyond two decimals or 10^10. */
export function exactAmount(v: number): string | undefined {
  const r = amountSchema.safeParse(v);
  return r.success ? r.data : undefined;
}

/** A JSON number as Go's `int(x.(float64))`: truncated toward zero; anything else is absent. */
export function goInt(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? Math.trunc(v) : undefined;
}
