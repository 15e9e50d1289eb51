// A client of the original design, built from its Go message definitions (internal/adapters/ws/messages.go,
// handler.go, bid.go, the scheduler's end event): every server message is decoded as strictly as Go decodes
// into those structs, and more: a field the structs do not declare is a failure too, since the dialect must
// send exactly what the original server sent. It shares no code with the server's rendering.
import type { Test } from 'tap';
import WebSocket from 'ws';
import { Inbox, opened } from './inbox.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const RFC3339_SECONDS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const RFC3339_NANO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d*[1-9])?Z$/;

type Field = 'uuid' | 'string' | 'float64' | 'int64' | 'rfc3339' | 'rfc3339nano' | 'status' | 'object' | 'any';
type Shape = Record<string, Field | `${Field}?`>;

function check(v: unknown, f: Field, where: string) {
  const fail = () => { throw new Error(`${where}: ${JSON.stringify(v)} is not ${f}`); };
  switch (f) {
    case 'uuid': if (typeof v !== 'string' || !UUID.test(v)) fail(); break;
    case 'string': if (typeof v !== 'string') fail(); break;
    case 'float64': if (typeof v !== 'number' || !Number.isFinite(v)) fail(); break;
    // unix seconds: an int64, and not milliseconds
    case 'int64': if (!Number.isSafeInteger(v) || (v as number) > 1e11) fail(); break;
    case 'rfc3339': if (typeof v !== 'string' || !RFC3339_SECONDS.test(v)) fail(); break;
    case 'rfc3339nano': if (typeof v !== 'string' || !RFC3339_NANO.test(v)) fail(); break;
    case 'status': if (v !== 'active' && v !== 'ended' && v !== 'cancelled') fail(); break;
    case 'object': if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(); break;
    case 'any': break;
  }
}

/** Exactly the keys of `shape` (those ending in ? may be absent), each of its type. */
function decode(o: unknown, shape: Shape, where: string): Record<string, any> {
  check(o, 'object', where);
  const rec = o as Record<string, unknown>;
  for (const k of Object.keys(rec)) if (!(k in shape)) throw new Error(`${where}: unknown field ${k} in ${JSON.stringify(o)}`);
  for (const [k, t] of Object.entries(shape)) {
    const optional = t.endsWith('?');
    if (!(k in rec)) {
      if (!optional) throw new Error(`${where}: missing ${k} in ${JSON.stringify(o)}`);
      continue;
    }
    check(rec[k], t.replace('?', '') as Field, `${where}.${k}`);
  }
  return rec;
}

// ServerMessage: type, auction_id (omitempty), data (omitempty map), error (omitempty *string), timestamp int64
const ENVELOPE: Shape = { type: 'string', auction_id: 'uuid?', data: 'object?', error: 'string?', timestamp: 'int64' };
// createAuctionResponse's map
const AUCTION: Shape = {
  auction_id: 'uuid', item_id: 'uuid', creator_id: 'uuid', start_time: 'rfc3339', end_time: 'rfc3339',
  starting_price: 'float64', current_price: 'float64', status: 'status',
};
// the Auction struct (list_auctions): time.Time marshals as RFC3339Nano
const AUCTION_STRUCT: Shape = {
  id: 'uuid', item_id: 'uuid', creator_id: 'uuid', start_time: 'rfc3339nano', end_time: 'rfc3339nano', starting_price: 'float64',
  current_price: 'float64', status: 'status', created_at: 'rfc3339nano', updated_at: 'rfc3339nano',
};
// bid.go's event map: timestamp is CreatedAt.Unix()
const BID: Shape = { bid_id: 'uuid', user_id: 'uuid', amount: 'float64', timestamp: 'int64' };
// the scheduler's end event: winner_id and final_price only when there was a bid
const ENDED: Shape = { auction_id: 'uuid', status: 'status', winner_id: 'uuid?', final_price: 'float64?' };

export type OriginalMsg = { type: string; auction_id?: string; data?: Record<string, any>; error?: string; timestamp: number };

/** One server message decoded by its type; throws on anything the original server would not have sent. */
export function decodeServerMessage(text: string): OriginalMsg {
  const m = decode(JSON.parse(text), ENVELOPE, 'message') as OriginalMsg;
  const { type, data } = m;
  const none = (what: 'data' | 'error' | 'auction_id') => { if (m[what] !== undefined) throw new Error(`${type} has ${what}: ${text}`); };
  switch (type) {
    case 'pong': none('data'); none('error'); none('auction_id'); break;
    case 'error': none('data'); if (m.error === undefined) throw new Error(`error without text: ${text}`); break;
    case 'auction_created': none('error'); none('auction_id'); decode(data, AUCTION, type); break;
    case 'bid_placed': none('error'); if (!m.auction_id) throw new Error(text); decode(data, BID, type);
      if (data!.timestamp !== m.timestamp) throw new Error(`bid_placed: the two timestamps differ: ${text}`); break;
    case 'auction_ended': none('error'); if (!m.auction_id) throw new Error(text); decode(data, ENDED, type);
      if (data!.auction_id !== m.auction_id) throw new Error(text); break;
    case 'auction_update': {
      none('error');
      if (data && 'count' in data) {
        none('auction_id');
        decode(data, { auctions: 'any', count: 'int64' }, 'list');
        if (data.auctions !== null) {
          if (!Array.isArray(data.auctions) || data.auctions.length === 0) throw new Error(`list: auctions is null or rows: ${text}`);
          data.auctions.forEach((a: unknown, i: number) => decode(a, AUCTION_STRUCT, `list.auctions[${i}]`));
        }
        if ((data.auctions?.length ?? 0) !== data.count) throw new Error(`list: count: ${text}`);
      } else if (data && Object.keys(data).length === 2 && data.status === 'cancelled') {
        // a cancellation (the original had none): fields of its AuctionData struct
        decode(data, { auction_id: 'uuid', status: 'status' }, 'cancelled');
        if (data.auction_id !== m.auction_id) throw new Error(text);
      } else if (data && Object.keys(data).length === 1) {
        if (data.status !== 'subscribed' && data.status !== 'unsubscribed') throw new Error(text);
        if (!m.auction_id) throw new Error(text);
      } else {
        if (!m.auction_id) throw new Error(text);
        decode(data, AUCTION, type);
      }
      break;
    }
    default: throw new Error(`a type the original does not know: ${text}`);
  }
  return m;
}

/** A socket speaking the original's protocol: no request ids, replies in order. */
export class OriginalClient {
  readonly raw: string[] = [];
  readonly errors: Error[] = [];
  readonly ws: WebSocket;
  readonly userId: string;
  /** a socket error (a reset as an instance shuts down): the socket's end, not the test process's */
  error: Error | undefined;
  private inbox = new Inbox<OriginalMsg>(() => `; undecodable: ${this.errors.join('; ')}`);

  constructor(ws: WebSocket, userId: string) {
    this.ws = ws;
    this.userId = userId;
    ws.on('message', (d) => {
      const text = d.toString();
      this.raw.push(text);
      let m: OriginalMsg;
      try {
        m = decodeServerMessage(text);
      } catch (err) {
        this.errors.push(err as Error);
        return;
      }
      this.inbox.add(m);
    });
    ws.on('error', (err) => { this.error = err; });
  }

  get messages(): OriginalMsg[] {
    return this.inbox.messages;
  }

  send(m: unknown) {
    this.ws.send(typeof m === 'string' ? m : JSON.stringify(m));
  }

  /** The first message from index `from` on that matches. */
  next(pred: (m: OriginalMsg) => boolean, from = 0, ms = 5000): Promise<OriginalMsg> {
    return this.inbox.next(pred, from, ms);
  }

  /** Sends a message and waits for the next one from here on that matches (the original's replies come in order). */
  async request(m: unknown, pred: (m: OriginalMsg) => boolean = () => true): Promise<OriginalMsg> {
    const reply = this.next(pred, this.messages.length);
    this.send(m);
    return reply;
  }

  /** Everything sent before now has arrived: the pong to a ping comes after it. */
  async settled() {
    await this.request({ type: 'ping', timestamp: Math.floor(Date.now() / 1000) }, (m) => m.type === 'pong');
  }
}

/** Connects as the original's clients did: /ws?user_id=<uuid>, optionally naming the dialect's subprotocol. */
export async function connectOriginal(t: Test, inst: { ws: string }, userId: string, o: { subprotocol?: string } = {}) {
  const ws = new WebSocket(`${inst.ws}?user_id=${userId}`, o.subprotocol ? [o.subprotocol] : []);
  const client = new OriginalClient(ws, userId);
  await opened(ws);
  t.teardown(() => { ws.terminate(); });
  return client;
}
