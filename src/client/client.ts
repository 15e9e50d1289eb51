// AuctionClient: one WebSocket for any number of auctions, with promise replies matched by request_id,
// typed events, subscriptions that resume themselves by seq after a reconnect, and a server clock estimate.
// Runs in browsers and in Node 24 (global WebSocket); no Node-only imports.
import { CLOSE } from '../protocol/close-codes.ts';
import {
  STATUS_TYPES, type AuctionList, type AuctionSnapshot, type AuctionUpdateData, type BidAcceptedData, type BidList,
  type BidRejectedData, type ServerMessage, type StatusType,
} from '../protocol/messages.ts';
import type { CreateAuctionRequest, ListAuctionsRequest, ListBidsRequest } from '../protocol/requests.ts';
import { backoffDelay, type BackoffOptions } from './backoff.ts';
import { ServerClock } from './clock.ts';
import { Emitter } from './emitter.ts';
import { AuctionError, BidRejectedError, RequestFailedError } from './errors.ts';
import { requestIds } from './ids.ts';
import { AuctionSubscription, remember, type AuctionEvent, type StatusEvent } from './subscription.ts';

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
  /**
   * JWT sent as ?token= (browsers cannot set headers). A function (a token provider) is asked again before each
   * reconnect, and before the token's exp, whose fresh token goes in band (`authenticate`) on the open socket.
   */
  token?: string | (() => string | Promise<string>);
  /** with a token provider: ask it this long before the token's exp, or halfway through a shorter lifetime, ms (30 000) */
  refreshBeforeMs?: number;
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

/** Every auction's events on the client itself; a subscription has the same for its own auction. */
export type ClientEvents = {
  bid_placed: AuctionEvent<'bid_placed'>;
  auction_update: AuctionEvent<'auction_update'>;
  auction_started: AuctionEvent<'auction_started'>;
  auction_ended: AuctionEvent<'auction_ended'>;
  auction_cancelled: AuctionEvent<'auction_cancelled'>;
  auction_extended: AuctionEvent<'auction_extended'>;
  outbid: AuctionEvent<'outbid'>;
  /** an unrequested server error, or a resubscribe that failed after a reconnect */
  error: AuctionError;
  connected: { reconnect: boolean };
  /** the server took a fresh token in band: the socket now lasts until `expiresAt` (ms since the epoch) */
  token_refreshed: { expiresAt: number };
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
  /** the subscription a subscribe request is for */
  sub?: AuctionSubscription;
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

const OPEN = 1;
const isStatus = (type: string): type is StatusType => (STATUS_TYPES as readonly string[]).includes(type);

export class AuctionClient extends Emitter<ClientEvents> {
  private readonly opts: ClientOptions;
  private readonly Socket: SocketConstructor;
  private readonly nextId = requestIds();
  private readonly clock = new ServerClock();
  private readonly pending = new Map<string, Pending>();
  private readonly subs = new Map<string, AuctionSubscription>();
  private readonly personalSeen = new Set<string>();
  private ws: SocketLike | undefined;
  private _state: ClientState = 'idle';
  private everOpened = false;
  private attempt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private keepaliveTimer: ReturnType<typeof setInterval> | undefined;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  /** the exp of the token the socket holds, ms */
  private tokenExpiresAt: number | undefined;
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

  /** The subscription to an auction, if it is watched. */
  subscription(auctionId: string): AuctionSubscription | undefined {
    return this.subs.get(auctionId);
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
    this.shutdown(CLOSE.normal, 'closed by the client');
    if (ws) {
      this.detach(ws);
      try { ws.close(CLOSE.normal, 'bye'); } catch { /* already closing */ }
    }
  }

  // ---- requests

  /**
   * Watches an auction. The subscription comes back at once, so its listeners are on before any event can
   * arrive; `ready` resolves with the first snapshot. Later bids arrive in seq order, once each, also after
   * reconnects. Subscribing to a watched auction returns its subscription.
   */
  subscribe(auctionId: string): AuctionSubscription {
    const held = this.subs.get(auctionId);
    if (held) return held;
    const sub = new AuctionSubscription(auctionId, {
      leave: (s) => this.leave(s),
      relay: (type, e) => this.emit(type as keyof ClientEvents, e as never),
    });
    if (this._state === 'idle' || this._state === 'closed') {
      sub.refused(new RequestFailedError('connection_closed', 'not connected: call connect() first'), false);
      return sub;
    }
    this.subs.set(auctionId, sub);
    this.requestSubscribe(sub).catch(() => {}); // its outcome is `sub.ready`
    return sub;
  }

  /** Stops watching an auction; resolves with its snapshot (`subscribed: false`). */
  unsubscribe(auctionId: string): Promise<AuctionUpdateData> {
    const sub = this.subs.get(auctionId);
    return sub ? sub.unsubscribe() : this.request<AuctionUpdateData>('unsubscribe', auctionId, undefined, 'resend');
  }

  private leave(sub: AuctionSubscription): Promise<AuctionUpdateData> {
    if (this.subs.get(sub.auctionId) === sub) this.subs.delete(sub.auctionId);
    return this.request<AuctionUpdateData>('unsubscribe', sub.auctionId, undefined, 'resend');
  }

  private requestSubscribe(sub: AuctionSubscription) {
    return this.request<AuctionUpdateData>('subscribe', sub.auctionId, undefined, 'resend', undefined, sub);
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
  createAuction(input: CreateAuctionRequest): Promise<AuctionSnapshot> {
    return this.request<AuctionSnapshot>('create_auction', undefined, input, 'fail');
  }

  getAuction(auctionId: string): Promise<AuctionUpdateData> {
    return this.request<AuctionUpdateData>('get_auction', auctionId, undefined, 'resend');
  }

  listAuctions(input: ListAuctionsRequest = {}): Promise<AuctionList> {
    return this.request<AuctionList>('list_auctions', undefined, input, 'resend');
  }

  /** An auction's accepted bids after `since_seq`, in seq order, a page at a time (`next_since_seq`). */
  listBids(auctionId: string, input: ListBidsRequest = {}): Promise<BidList> {
    return this.request<BidList>('list_bids', auctionId, input, 'resend');
  }

  /** Round trip in ms. */
  async ping(): Promise<number> {
    const t0 = Date.now();
    await this.request('ping', undefined, undefined, 'resend');
    return Date.now() - t0;
  }

  private request<T>(type: string, auctionId: string | undefined, data: unknown, onDrop: OnDrop, requestId?: string, sub?: AuctionSubscription): Promise<T> {
    if (this._state === 'idle' || this._state === 'closed') {
      return Promise.reject(new RequestFailedError('connection_closed', 'not connected: call connect() first', requestId));
    }
    const id = requestId ?? this.nextId();
    if (this.pending.has(id)) return Promise.reject(new AuctionError('invalid_request_id', `request ${id} is already in flight`, id));
    return new Promise<T>((resolve, reject) => {
      const p: Pending = {
        id, type, auctionId, sub, onDrop, sentAt: 0, sent: false, timer: undefined, retries: 0,
        resolve: (m) => resolve(('data' in m ? m.data : undefined) as T), reject,
        build: () => {
          const f: Frame = { type, request_id: id };
          if (auctionId !== undefined) f.auction_id = auctionId;
          if (type === 'subscribe') {
            const since = sub?.lastSeq;
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
      this.tokenExpiresAt = token ? expiryOf(token) : undefined;
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
    this.scheduleRefresh();
    // resubscribe every watched auction from its last seq, then everything else still unanswered, in order
    const subscribing = new Set([...this.pending.values()].filter((p) => p.type === 'subscribe').map((p) => p.sub));
    for (const sub of this.subs.values()) {
      if (subscribing.has(sub)) continue;
      this.requestSubscribe(sub).catch((err: Error) => {
        const e = err instanceof AuctionError ? err : new AuctionError('resubscribe_failed', err.message);
        if (this.subs.get(sub.auctionId) === sub) this.subs.delete(sub.auctionId);
        sub.refused(e, true);
        this.emit('error', e);
      });
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
    this.stopRefresh();
    if (this._state === 'closed') return;
    for (const sub of this.subs.values()) sub.suspend();
    const retry = this.everOpened && this.opts.reconnect !== false && code !== CLOSE.normal;
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
    if (code === CLOSE.rateLimited) delay = Math.max(delay, this.opts.rateLimitedDelayMs ?? 30_000);
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
    this.stopRefresh();
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

  /** With a token provider: a fresh token before this one's exp (the server closes with 4001 at exp). */
  private scheduleRefresh() {
    this.stopRefresh();
    if (typeof this.opts.token !== 'function' || this.tokenExpiresAt === undefined) return;
    const left = this.tokenExpiresAt - Date.now();
    // the later of `refreshBeforeMs` before exp and halfway: a short-lived token is not asked for in a loop
    const delay = Math.max(left - (this.opts.refreshBeforeMs ?? 30_000), left / 2, 0);
    this.refreshTimer = setTimeout(() => void this.refresh(), Math.min(delay, 2 ** 31 - 1));
    (this.refreshTimer as { unref?: () => void }).unref?.();
  }

  /**
   * Asks the token provider now and sends its token in band; resolves once the server took it (or at once when
   * the provider's token lasts no longer than the socket's). Failures are `error` events.
   */
  refreshToken(): Promise<void> {
    this.stopRefresh();
    return this.refresh();
  }

  private async refresh() {
    this.refreshTimer = undefined;
    const provider = this.opts.token;
    if (typeof provider !== 'function' || this._state !== 'open') return;
    try {
      const token = await provider();
      // the same token again (or one expiring no later) renews nothing: the server closes at exp, the reconnect asks again
      const exp = expiryOf(token);
      if (exp !== undefined && this.tokenExpiresAt !== undefined && exp <= this.tokenExpiresAt) return;
      const r = await this.request<{ expires_at: string }>('authenticate', undefined, { token }, 'fail');
      if (this._state !== 'open') return;
      // the server's word on exp, on the local clock
      this.tokenExpiresAt = Date.parse(r.expires_at) - this.clock.offsetMs;
      this.emit('token_refreshed', { expiresAt: this.tokenExpiresAt });
      this.scheduleRefresh();
    } catch (err) {
      // not retried here: at exp the server closes (4001) and the reconnect asks the provider again
      this.emit('error', err instanceof AuctionError ? err : new AuctionError('token_refresh_failed', (err as Error).message));
    }
  }

  private stopRefresh() {
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    this.refreshTimer = undefined;
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
      this.emit('error', new AuctionError(m.error.code ?? 'internal', m.error.message ?? 'error'));
    }
    this.route(m, p?.sent ? p : undefined);
  }

  private settle(p: Pending, m: ServerMessage) {
    if (m.type === 'error' && m.error.code === 'outcome_unknown' && p.onDrop === 'resend' && p.retries < 2) {
      p.retries++; // the server says: retry with the same request_id
      this.transmit(p);
      return;
    }
    this.pending.delete(p.id);
    if (p.timer) clearTimeout(p.timer);
    if (m.type === 'error') {
      const err = new AuctionError(m.error.code ?? 'internal', m.error.message ?? 'request failed', p.id);
      // a subscription refused before it ever started is not kept (nor resubscribed after a reconnect)
      const sub = p.sub;
      if (sub && (m.error.code === 'auction_not_found' || !sub.started)) {
        if (this.subs.get(sub.auctionId) === sub) this.subs.delete(sub.auctionId);
        sub.refused(err, false);
      }
      p.reject(err);
      return;
    }
    if (m.type === 'bid_rejected') {
      p.reject(new BidRejectedError(m.data, m.error.message ?? m.data.reason, p.id));
      return;
    }
    if (p.sub && m.type === 'auction_update' && this.subs.get(p.sub.auctionId) === p.sub) p.sub.subscribed(m, p.sinceSeq);
    p.resolve(m);
  }

  /** Events for auctions: to the auction's subscription (which drops repeats), then to the client's listeners. */
  private route(m: ServerMessage, reply: Pending | undefined) {
    if (!('auction_id' in m) || !m.auction_id) return;
    const sub = this.subs.get(m.auction_id);
    if (m.type === 'bid_placed') {
      if (sub) sub.onBid(m as AuctionEvent<'bid_placed'>);
      else this.emit('bid_placed', m as AuctionEvent<'bid_placed'>);
    } else if (m.type === 'auction_update') {
      // a subscribe reply went to its subscription in settle()
      if (!sub) this.emit('auction_update', m as AuctionEvent<'auction_update'>);
      else if (reply?.sub !== sub) sub.onSnapshot(m as AuctionEvent<'auction_update'>);
    } else if (isStatus(m.type)) {
      const s = m as StatusEvent;
      if (sub) sub.onStatus(s);
      else if (remember(this.personalSeen, `${s.type}:${s.seq}:${s.data.end_time ?? ''}`)) this.emit(s.type, s as never);
    } else if (m.type === 'outbid') {
      const o = m as AuctionEvent<'outbid'>;
      if (!remember(this.personalSeen, `outbid:${o.auction_id}:${o.seq}`)) return;
      if (sub) sub.onOutbid(o);
      else this.emit('outbid', o);
    }
  }
}

/** A JWT's exp in ms, read (not verified: the server does that) from its payload; undefined when unreadable. */
function expiryOf(token: string): number | undefined {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const exp = (JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), '='))) as { exp?: unknown }).exp;
    return typeof exp === 'number' ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}
