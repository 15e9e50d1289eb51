// AuctionClient: one WebSocket for any number of auctions, with promise replies matched by request_id,
// typed events, automatic reconnect that resumes each auction by seq, and a server clock estimate.
// Runs in browsers and in Node 24 (global WebSocket); no Node-only imports.
import { backoffDelay, type BackoffOptions } from './backoff.ts';
import { ServerClock } from './clock.ts';
import { Emitter } from './emitter.ts';
import { AuctionError, BidRejectedError, RequestFailedError } from './errors.ts';
import { requestIds } from './ids.ts';
import type {
  AuctionCancelledData, AuctionEndedData, AuctionEvent, AuctionExtendedData, AuctionList, AuctionSnapshot,
  AuctionStartedData, BidAcceptedData, BidPlacedData, BidRejectedData, CreateAuctionInput, ListAuctionsInput,
  OutbidData, ServerMessage,
} from './types.ts';

/** The part of the WebSocket API the client uses: the browser's, Node 24's global, or `ws`. */
export type SocketLike = {
  readonly readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
};
export type SocketConstructor = new (url: string) => SocketLike;

export type ClientOptions = {
  /** ws(s)://host/ws; a function is asked again before each reconnect (e.g. to pick another instance) */
  url: string | (() => string);
  /** JWT sent as ?token= (browsers cannot set headers); a function is asked again before each reconnect */
  token?: string | (() => string | Promise<string>);
  /** a WebSocket constructor; defaults to the global one */
  WebSocket?: SocketConstructor;
  /** how long a request waits for its reply, ms (10 000) */
  requestTimeoutMs?: number;
  /** reconnect after an unexpected close (true) */
  reconnect?: boolean;
  backoff?: BackoffOptions;
  /** the least wait before reconnecting after close code 4029 (rate limited), ms (30 000) */
  rateLimitedDelayMs?: number;
  /** ping when nothing arrived for this long, and reconnect when the ping goes unanswered, ms (20 000; 0: off) */
  keepaliveMs?: number;
};

export type ClientEvents = {
  bid_placed: AuctionEvent<'bid_placed', BidPlacedData>;
  auction_update: AuctionEvent<'auction_update', AuctionSnapshot>;
  auction_started: AuctionEvent<'auction_started', AuctionStartedData>;
  auction_ended: AuctionEvent<'auction_ended', AuctionEndedData>;
  auction_cancelled: AuctionEvent<'auction_cancelled', AuctionCancelledData>;
  auction_extended: AuctionEvent<'auction_extended', AuctionExtendedData>;
  outbid: AuctionEvent<'outbid', OutbidData>;
  /** an unrequested server error, or a resubscribe that failed after a reconnect */
  error: AuctionError;
  connected: { reconnect: boolean };
  disconnected: { code: number; reason: string; willReconnect: boolean; delayMs?: number };
  /** every message as it arrived, before any de-duplication (for debugging) */
  message: ServerMessage;
};

export type BidOptions = {
  /** proxy bid: the server bids for you by the increment up to this */
  maxAmount?: number | string;
  /** idempotency key; one is generated when not given. Retrying with the same id never bids twice. */
  requestId?: string;
};

export type ClientState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

type Frame = { type: string; auction_id?: string; request_id: string; data?: unknown };

// What to do with a request whose reply did not come before the socket dropped.
//  resend: send it again after reconnecting (bids: request_id makes them idempotent; reads: harmless)
//  fail:   reject (create_auction is not idempotent: it may or may not have happened)
//  drop:   reject quietly (keepalive pings)
type OnDrop = 'resend' | 'fail' | 'drop';

type Pending = {
  id: string;
  type: string;
  auctionId: string | undefined;
  build: () => Frame;
  onDrop: OnDrop;
  resolve: (m: ServerMessage) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
  sentAt: number;
  sent: boolean;
  /** the since_seq the last sent subscribe carried */
  sinceSeq?: number;
  retries: number;
};

type Subscription = {
  /** highest bid seq delivered (or the seq of the first snapshot) */
  lastSeq: number | undefined;
  known: { status: string; end_time: string } | undefined;
  /** status events already delivered, by type:seq:end_time */
  seen: Set<string>;
  /** status changes missed while disconnected, emitted once the replay reaches `seq` */
  deferred: { seq: number; events: ServerMessage[] } | undefined;
};

const OPEN = 1;
const NO_RECONNECT = new Set([1000, 1008]); // normal; policy (origin or auth refused)
const STATUS_TYPES = new Set(['auction_started', 'auction_ended', 'auction_cancelled', 'auction_extended']);

export class AuctionClient extends Emitter<ClientEvents> {
  private readonly opts: ClientOptions;
  private readonly Socket: SocketConstructor;
  private readonly nextId = requestIds();
  private readonly clock = new ServerClock();
  private readonly pending = new Map<string, Pending>();
  private readonly subs = new Map<string, Subscription>();
  private readonly personalSeen = new Set<string>();
  private ws: SocketLike | undefined;
  private _state: ClientState = 'idle';
  private everOpened = false;
  private attempt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private keepaliveTimer: ReturnType<typeof setInterval> | undefined;
  private lastMessageAt = 0;
  private openWaiters: { resolve: () => void; reject: (e: Error) => void }[] = [];

  constructor(opts: ClientOptions) {
    super();
    this.opts = opts;
    const ctor = opts.WebSocket ?? (globalThis as { WebSocket?: SocketConstructor }).WebSocket;
    if (!ctor) throw new Error('no WebSocket: pass options.WebSocket');
    this.Socket = ctor;
  }

  get state(): ClientState {
    return this._state;
  }

  /** Estimated server time (ms since the epoch), for countdowns to end_time. */
  serverNow(): number {
    return this.clock.serverNow();
  }

  /** Estimated server clock minus local clock, ms. */
  get serverOffsetMs(): number {
    return this.clock.offsetMs;
  }

  /** Auctions this client watches (and resubscribes after a reconnect). */
  get subscriptions(): string[] {
    return [...this.subs.keys()];
  }

  /** The highest seq delivered for a watched auction. */
  lastSeq(auctionId: string): number | undefined {
    return this.subs.get(auctionId)?.lastSeq;
  }

  /** Opens the socket. Rejects when the first attempt fails; later drops reconnect by themselves. */
  connect(): Promise<void> {
    if (this._state === 'open') return Promise.resolve();
    const p = new Promise<void>((resolve, reject) => this.openWaiters.push({ resolve, reject }));
    if (this._state === 'idle' || this._state === 'closed') {
      this._state = 'connecting';
      this.everOpened = false;
      this.attempt = 0;
      void this.open();
    }
    return p;
  }

  /** Closes for good: no reconnect; unanswered requests reject with `connection_closed`. */
  close() {
    const ws = this.ws;
    this.shutdown(1000, 'closed by the client');
    if (ws) {
      this.detach(ws);
      try { ws.close(1000, 'bye'); } catch { /* already closing */ }
    }
  }

  // ---- requests

  /** Watches an auction; resolves with its snapshot. Later bids arrive as `bid_placed`, in seq order. */
  subscribe(auctionId: string): Promise<AuctionSnapshot> {
    if (this._state === 'idle' || this._state === 'closed') return this.request('subscribe', auctionId, undefined, 'resend');
    if (!this.subs.has(auctionId)) this.subs.set(auctionId, { lastSeq: undefined, known: undefined, seen: new Set(), deferred: undefined });
    return this.request<AuctionSnapshot>('subscribe', auctionId, undefined, 'resend');
  }

  unsubscribe(auctionId: string): Promise<AuctionSnapshot> {
    this.subs.delete(auctionId);
    return this.request<AuctionSnapshot>('unsubscribe', auctionId, undefined, 'resend');
  }

  /**
   * Places a bid (amount, or a proxy maximum, or both). Resolves with the `bid_accepted` data, rejects
   * with BidRejectedError. A bid in flight when the socket drops is sent again with its request_id.
   */
  bid(auctionId: string, amount: number | string | null | undefined, opts: BidOptions = {}): Promise<BidAcceptedData> {
    const data: Record<string, unknown> = {};
    if (amount != null) data.amount = amount;
    if (opts.maxAmount != null) data.max_amount = opts.maxAmount;
    return this.request<BidAcceptedData>('place_bid', auctionId, data, 'resend', opts.requestId);
  }

  /** Buys at the buy-now price; resolves with `bid_accepted` data (`bought: true`). */
  buyNow(auctionId: string, opts: { requestId?: string } = {}): Promise<BidAcceptedData> {
    return this.request<BidAcceptedData>('buy_now', auctionId, undefined, 'resend', opts.requestId);
  }

  /** Not resent after a drop (it is not idempotent): rejects with `connection_closed` then. */
  createAuction(input: CreateAuctionInput): Promise<AuctionSnapshot> {
    return this.request<AuctionSnapshot>('create_auction', undefined, input, 'fail');
  }

  getAuction(auctionId: string): Promise<AuctionSnapshot> {
    return this.request<AuctionSnapshot>('get_auction', auctionId, undefined, 'resend');
  }

  listAuctions(input: ListAuctionsInput = {}): Promise<AuctionList> {
    return this.request<AuctionList>('list_auctions', undefined, input, 'resend');
  }

  /** Round trip in ms. */
  async ping(): Promise<number> {
    const t0 = Date.now();
    await this.request('ping', undefined, undefined, 'resend');
    return Date.now() - t0;
  }

  private request<T>(type: string, auctionId: string | undefined, data: unknown, onDrop: OnDrop, requestId?: string): Promise<T> {
    if (this._state === 'idle' || this._state === 'closed') {
      return Promise.reject(new RequestFailedError('connection_closed', 'not connected: call connect() first', requestId));
    }
    const id = requestId ?? this.nextId();
    if (this.pending.has(id)) return Promise.reject(new AuctionError('invalid_request_id', `request ${id} is already in flight`, id));
    return new Promise<T>((resolve, reject) => {
      const p: Pending = {
        id, type, auctionId, onDrop, sentAt: 0, sent: false, timer: undefined, retries: 0,
        resolve: (m) => resolve(m.data as T), reject,
        build: () => {
          const f: Frame = { type, request_id: id };
          if (auctionId !== undefined) f.auction_id = auctionId;
          if (type === 'subscribe') {
            const since = this.subs.get(auctionId!)?.lastSeq;
            p.sinceSeq = since;
            if (since !== undefined) f.data = { since_seq: since };
          } else if (data !== undefined) {
            f.data = data;
          }
          return f;
        },
      };
      this.pending.set(id, p);
      if (this._state === 'open' && this.ws?.readyState === OPEN) this.transmit(p);
      else this.arm(p); // queued until the socket opens
    });
  }

  /** Starts (or restarts) a request's timeout. */
  private arm(p: Pending) {
    if (p.timer) clearTimeout(p.timer);
    p.timer = setTimeout(() => {
      if (this.pending.get(p.id) !== p) return;
      this.pending.delete(p.id);
      if (p.onDrop === 'drop') {
        p.reject(new RequestFailedError('timeout', 'keepalive ping unanswered', p.id));
        if (this.ws) this.lost(this.ws, 4000, 'keepalive ping unanswered');
        return;
      }
      const bidNote = p.type === 'place_bid' || p.type === 'buy_now' ? '; the bid may have been placed: retry with the same requestId' : '';
      p.reject(new RequestFailedError('timeout', `no reply to ${p.type} within ${this.timeoutMs} ms${bidNote}`, p.id));
    }, this.timeoutMs);
  }

  private get timeoutMs() {
    return this.opts.requestTimeoutMs ?? 10_000;
  }

  private transmit(p: Pending) {
    const ws = this.ws;
    if (!ws || ws.readyState !== OPEN) return;
    const frame = p.build();
    p.sent = true;
    p.sentAt = Date.now();
    this.arm(p);
    ws.send(JSON.stringify(frame));
  }

  // ---- socket lifecycle

  private async open() {
    let url: URL;
    try {
      const token = typeof this.opts.token === 'function' ? await this.opts.token() : this.opts.token;
      url = new URL(typeof this.opts.url === 'function' ? this.opts.url() : this.opts.url);
      if (token) url.searchParams.set('token', token);
    } catch (err) {
      this.lostBeforeOpen(4000, `could not build the socket URL: ${(err as Error).message}`);
      return;
    }
    if (this._state === 'closed') return;
    let ws: SocketLike;
    try {
      ws = new this.Socket(url.toString());
    } catch (err) {
      this.lostBeforeOpen(4000, (err as Error).message);
      return;
    }
    this.ws = ws;
    ws.onopen = () => this.opened(ws);
    ws.onmessage = (ev) => this.received(ev.data);
    ws.onerror = () => { /* a close event follows */ };
    ws.onclose = (ev) => this.lost(ws, ev.code, ev.reason);
  }

  private lostBeforeOpen(code: number, reason: string) {
    this.ws = undefined;
    this.afterLoss(code, reason);
  }

  private opened(ws: SocketLike) {
    if (this.ws !== ws) return;
    const reconnect = this.everOpened;
    this.everOpened = true;
    this._state = 'open';
    this.attempt = 0;
    this.lastMessageAt = Date.now();
    this.startKeepalive();
    // resubscribe every watched auction from its last seq, then everything else still unanswered, in order
    const subscribing = new Set([...this.pending.values()].filter((p) => p.type === 'subscribe').map((p) => p.auctionId));
    for (const id of this.subs.keys()) {
      if (!subscribing.has(id)) {
        this.request<AuctionSnapshot>('subscribe', id, undefined, 'resend').catch((err: Error) => {
          this.emit('error', err instanceof AuctionError ? err : new AuctionError('resubscribe_failed', err.message));
        });
      }
    }
    const queued = [...this.pending.values()].filter((p) => !p.sent);
    for (const p of queued) if (p.type === 'subscribe') this.transmit(p);
    for (const p of queued) if (p.type !== 'subscribe') this.transmit(p);
    // a first clock sample at once; it also makes the server start this user's own channel (outbid alerts),
    // which it does on a socket's first frame
    this.request('ping', undefined, undefined, 'drop').catch(() => {});
    for (const w of this.openWaiters.splice(0)) w.resolve();
    this.emit('connected', { reconnect });
  }

  private detach(ws: SocketLike) {
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
  }

  /** The socket closed or was found dead. */
  private lost(ws: SocketLike, code: number, reason: string) {
    if (this.ws !== ws) return;
    this.detach(ws);
    if (ws.readyState === OPEN) {
      try { ws.close(4000, reason); } catch { /* ignore */ }
    }
    this.ws = undefined;
    this.afterLoss(code, reason);
  }

  private afterLoss(code: number, reason: string) {
    this.stopKeepalive();
    if (this._state === 'closed') return;
    const retry = this.everOpened && this.opts.reconnect !== false && !NO_RECONNECT.has(code);
    if (!retry) {
      const why = this.everOpened ? `connection closed (${code}${reason ? `: ${reason}` : ''})` : `could not connect (${code}${reason ? `: ${reason}` : ''})`;
      this.shutdown(code, reason, why);
      return;
    }
    this._state = 'reconnecting';
    for (const p of [...this.pending.values()]) {
      if (!p.sent) continue;
      if (p.onDrop === 'resend') {
        p.sent = false;
        this.arm(p); // waits at most one timeout for the reconnect
      } else {
        this.pending.delete(p.id);
        if (p.timer) clearTimeout(p.timer);
        if (p.onDrop === 'fail') {
          p.reject(new RequestFailedError('connection_closed', `connection lost before the reply to ${p.type}; it may or may not have been carried out`, p.id));
        } else {
          p.reject(new RequestFailedError('connection_closed', 'connection lost', p.id));
        }
      }
    }
    let delay = backoffDelay(this.attempt++, this.opts.backoff);
    if (code === 4029) delay = Math.max(delay, this.opts.rateLimitedDelayMs ?? 30_000);
    this.emit('disconnected', { code, reason, willReconnect: true, delayMs: delay });
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this._state === 'reconnecting') void this.open();
    }, delay);
  }

  private shutdown(code: number, reason: string, why = 'the client was closed') {
    const wasOpen = this._state !== 'idle' && this._state !== 'closed';
    this._state = 'closed';
    this.ws = undefined;
    this.stopKeepalive();
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    for (const p of [...this.pending.values()]) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(new RequestFailedError('connection_closed', why, p.id));
    }
    this.pending.clear();
    const err = new RequestFailedError('connection_closed', why);
    for (const w of this.openWaiters.splice(0)) w.reject(err);
    if (wasOpen) this.emit('disconnected', { code, reason, willReconnect: false });
  }

  private startKeepalive() {
    this.stopKeepalive();
    const every = this.opts.keepaliveMs ?? 20_000;
    if (every <= 0) return;
    this.keepaliveTimer = setInterval(() => {
      if (this._state !== 'open' || Date.now() - this.lastMessageAt < every) return;
      if ([...this.pending.values()].some((p) => p.type === 'ping' && p.onDrop === 'drop')) return;
      this.request('ping', undefined, undefined, 'drop').catch(() => {});
    }, Math.max(100, every / 2));
    (this.keepaliveTimer as { unref?: () => void }).unref?.();
  }

  private stopKeepalive() {
    if (this.keepaliveTimer) clearInterval(this.keepaliveTimer);
    this.keepaliveTimer = undefined;
  }

  // ---- incoming messages

  private received(raw: unknown) {
    const now = Date.now();
    this.lastMessageAt = now;
    let m: ServerMessage;
    try {
      m = JSON.parse(typeof raw === 'string' ? raw : String(raw)) as ServerMessage;
    } catch {
      this.emit('error', new AuctionError('invalid_json', 'the server sent a frame that is not JSON'));
      return;
    }
    this.clock.addMessage(m.timestamp, now);
    this.emit('message', m);
    const p = m.request_id !== undefined ? this.pending.get(m.request_id) : undefined;
    if (p && p.sent) {
      this.clock.addReply(m.timestamp, p.sentAt, now);
      this.settle(p, m);
    } else if (m.type === 'error' && !m.request_id) {
      this.emit('error', new AuctionError(m.error?.code ?? 'internal', m.error?.message ?? 'error'));
    }
    this.route(m);
  }

  private settle(p: Pending, m: ServerMessage) {
    if (m.type === 'error' && m.error?.code === 'outcome_unknown' && p.onDrop === 'resend' && p.retries < 2) {
      p.retries++; // the server says: retry with the same request_id
      this.transmit(p);
      return;
    }
    this.pending.delete(p.id);
    if (p.timer) clearTimeout(p.timer);
    if (m.type === 'error') {
      // a subscription refused before it ever started is not kept (nor resubscribed after a reconnect)
      if (p.type === 'subscribe' && p.auctionId && (m.error?.code === 'auction_not_found' || this.subs.get(p.auctionId)?.lastSeq === undefined)) {
        this.subs.delete(p.auctionId);
      }
      p.reject(new AuctionError(m.error?.code ?? 'internal', m.error?.message ?? 'request failed', p.id));
      return;
    }
    if (m.type === 'bid_rejected') {
      const data = (m.data ?? { reason: m.error?.code ?? 'rejected' }) as BidRejectedData;
      p.reject(new BidRejectedError(data, m.error?.message ?? data.reason, p.id));
      return;
    }
    if (p.type === 'subscribe' && m.type === 'auction_update' && m.auction_id) this.subscribed(m as AuctionEvent<'auction_update', AuctionSnapshot>, p.sinceSeq);
    p.resolve(m);
  }

  /** A subscribe reply: a fresh subscription starts at the snapshot's seq; a resumed one is replayed up to it. */
  private subscribed(m: AuctionEvent<'auction_update', AuctionSnapshot>, sinceSeq: number | undefined) {
    const s = this.subs.get(m.auction_id);
    if (!s) return;
    const snap = m.data;
    if (sinceSeq === undefined || s.lastSeq === undefined) s.lastSeq = Math.max(s.lastSeq ?? 0, snap.seq);
    const prev = s.known;
    if (prev && sinceSeq !== undefined) {
      const missed = missedStatusEvents(prev, snap, m);
      if (missed.length > 0) s.deferred = { seq: snap.seq, events: missed };
    }
    this.flushDeferred(s);
  }

  private route(m: ServerMessage) {
    const id = m.auction_id;
    if (!id) return;
    const s = this.subs.get(id);
    if (m.type === 'bid_placed') {
      const seq = m.seq ?? (m.data as BidPlacedData | undefined)?.seq;
      if (s && seq !== undefined) {
        if (s.lastSeq !== undefined && seq <= s.lastSeq) return; // already delivered
        s.lastSeq = seq;
      }
      this.emit('bid_placed', m as ClientEvents['bid_placed']);
      if (s) this.flushDeferred(s);
    } else if (m.type === 'auction_update') {
      const snap = m.data as AuctionSnapshot | undefined;
      if (s && snap?.status && m.data !== undefined) {
        // a subscribe reply with a pending replay keeps the old state until the replay is through
        if (!s.deferred) s.known = { status: snap.status, end_time: snap.end_time };
      }
      if (m.data !== undefined) this.emit('auction_update', m as ClientEvents['auction_update']);
    } else if (STATUS_TYPES.has(m.type)) {
      if (s) this.flushDeferred(s, true);
      this.status(m, s);
    } else if (m.type === 'outbid') {
      const key = `outbid:${id}:${m.seq ?? (m.data as OutbidData | undefined)?.seq}`;
      if (remember(this.personalSeen, key)) this.emit('outbid', m as ClientEvents['outbid']);
    }
  }

  private status(m: ServerMessage, s: Subscription | undefined) {
    const d = (m.data ?? {}) as { status?: string; end_time?: string };
    const key = `${m.type}:${m.seq ?? ''}:${d.end_time ?? ''}`;
    if (!remember(s ? s.seen : this.personalSeen, key)) return;
    if (s) {
      const known = s.known ?? { status: d.status ?? 'active', end_time: d.end_time ?? '' };
      s.known = { status: d.status ?? known.status, end_time: d.end_time ?? known.end_time };
    }
    this.emit(m.type as 'auction_started', m as ClientEvents['auction_started']);
  }

  private flushDeferred(s: Subscription, force = false) {
    const d = s.deferred;
    if (!d || (!force && (s.lastSeq ?? 0) < d.seq)) return;
    s.deferred = undefined;
    for (const e of d.events) this.status(e, s);
  }
}

/** Keeps a bounded set of keys; false when the key was there already. */
function remember(set: Set<string>, key: string): boolean {
  if (set.has(key)) return false;
  set.add(key);
  if (set.size > 256) set.delete(set.values().next().value!);
  return true;
}

/** Status events a resumed subscriber missed, derived from the state before the drop and the new snapshot. */
function missedStatusEvents(prev: { status: string; end_time: string }, snap: AuctionSnapshot, m: ServerMessage): ServerMessage[] {
  const base = { auction_id: snap.auction_id, seq: snap.seq, timestamp: m.timestamp, resumed: true };
  const time = new Date(m.timestamp).toISOString();
  const out: ServerMessage[] = [];
  if (prev.status === 'pending' && (snap.status === 'active' || snap.status === 'ended')) {
    out.push({ ...base, type: 'auction_started', data: { status: 'active', end_time: snap.end_time, time } });
  }
  if (snap.status === prev.status && snap.end_time !== prev.end_time) {
    out.push({ ...base, type: 'auction_extended', data: { status: snap.status, end_time: snap.end_time, time } });
  }
  if (snap.status === 'ended' && prev.status !== 'ended') {
    out.push({ ...base, type: 'auction_ended', data: {
      status: 'ended', winner_id: snap.winner_id, final_price: snap.winner_id ? snap.current_price : null, end_time: snap.end_time, time } });
  }
  if (snap.status === 'cancelled' && prev.status !== 'cancelled') {
    out.push({ ...base, type: 'auction_cancelled', data: { status: 'cancelled', reason: snap.cancel_reason, time } });
  }
  return out;
}
