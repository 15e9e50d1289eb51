import type { WebSocket } from 'ws';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { randomUUID } from 'node:crypto';
import { createAuction, getAuction, listAuctions, snapshot, BadCursorError, type Scheduler } from '../domain/auctions.ts';
import { toJsonAmount } from '../domain/money.ts';
import { toClientError } from '../db/errors.ts';
import { OutcomeUnknownError } from '../domain/bid-batcher.ts';
import { acceptedView, buyNow, rejectedView } from '../domain/bids.ts';
import { withDeadline } from '../util/deadline.ts';
import { metrics } from '../metrics.ts';
import { CLIENT_TYPES, CLOSE, auctionInput, clientMessage, type ClientMessage } from './protocol.ts';
import { message, type ServerMessage } from './messages.ts';
import { MAX_DETAILS, issueDetails, issueSummary, type IssueDetail } from './views.ts';
import type { Feeds, Outgoing, PersonalSubscriber } from './feeds.ts';

type Deps = { app: FastifyInstance; feeds: Feeds };

const settled = Promise.resolve();

/**
 * One socket: validates each frame, runs it, replies; also a Subscriber of every auction it watches.
 * An idle socket costs little: the logger, its id and the user's own channel come with the first use.
 */
export class Connection implements PersonalSubscriber {
  readonly subscriptions = new Set<string>();
  alive = true;
  inFlight = 0;
  private tokens: number;
  private lastRefill = Date.now();
  private strikes = 0;
  private closed = false;
  private ws: WebSocket;
  /** the TCP socket under `ws`, written to directly with broadcast frames; undefined when an extension is negotiated */
  private tcp: Socket | undefined;
  readonly userId: string;
  private deps: Deps;
  private logger: FastifyBaseLogger | undefined;
  /** LISTEN on the user's own channel, started by the first frame: a socket that never speaks hears only what it subscribes to */
  private personal: Promise<void> | undefined;
  private unlistenPersonal: (() => Promise<void>) | undefined;

  constructor(ws: WebSocket, userId: string, deps: Deps, tcp?: Socket) {
    this.ws = ws;
    this.userId = userId;
    this.deps = deps;
    this.tokens = deps.app.config.WS_RATE_BURST;
    // ws frames nothing itself then: a broadcast frame written to the TCP socket cannot land inside another frame
    this.tcp = ws.extensions === '' ? tcp : undefined;
  }

  get log(): FastifyBaseLogger {
    return (this.logger ??= this.deps.app.log.child({ conn: randomUUID(), user: this.userId }));
  }

  /** true once this side closed or terminated the socket */
  get isClosing() {
    return this.closed;
  }

  /** One socket's own message (a string), or a broadcast serialized once for all (the same frame bytes to each: one write). */
  send(m: string | Outgoing) {
    const ws = this.ws;
    if (this.closed || ws.readyState !== ws.OPEN) return;
    if (ws.bufferedAmount > this.deps.app.config.WS_MAX_BUFFERED_BYTES) {
      this.close(CLOSE.slowConsumer, 'slow consumer: resubscribe with since_seq');
      return;
    }
    if (typeof m === 'string') ws.send(m);
    else if (this.tcp) this.tcp.write(m.frame);
    else for (const text of m.texts) ws.send(text);
  }

  /** A subscription broke after its snapshot was sent: closing makes the client resume every subscription by seq. */
  resubscribe(reason: string) {
    this.close(CLOSE.tryAgain, `${reason}: reconnect and resubscribe with since_seq`);
  }

  reply(m: Omit<ServerMessage, 'timestamp'>) {
    this.send(JSON.stringify(message(m)));
  }

  error(code: string, text: string, requestId?: string, auctionId?: string, details?: IssueDetail[]) {
    metrics.wsErrors.inc({ code });
    this.reply({ type: 'error', request_id: requestId, auction_id: auctionId, error: details ? { code, message: text, details } : { code, message: text } });
  }

  ping() {
    this.ws.ping();
  }

  terminate() {
    this.closed = true;
    this.ws.terminate();
  }

  close(code: number, reason: string) {
    if (this.closed) return;
    this.closed = true;
    metrics.wsErrors.inc({ code: `close_${code}` });
    this.ws.close(code, reason);
  }

  async cleanup() {
    this.closed = true;
    void this.unlistenPersonal?.();
    const ids = [...this.subscriptions];
    this.subscriptions.clear();
    metrics.subscriptions.dec(ids.length);
    await Promise.all(ids.map((id) => this.deps.feeds.unsubscribe(id, this)));
  }

  private async listenPersonal() {
    try {
      const undo = await this.deps.feeds.listenUser(this.userId, this);
      if (this.closed) void undo();
      else this.unlistenPersonal = undo;
    } catch (err) {
      this.log.error({ err }, 'could not listen on the user channel');
    }
  }

  private allow(): boolean {
    const { WS_RATE_LIMIT_PER_SEC: rate, WS_RATE_BURST: burst } = this.deps.app.config;
    const now = Date.now();
    this.tokens = Math.min(burst, this.tokens + ((now - this.lastRefill) / 1000) * rate);
    this.lastRefill = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      this.strikes = 0;
      return true;
    }
    return false;
  }

  private chain: Promise<void> = settled;

  /** Entry point for every frame: one socket's frames run in order; never throws (errors here would skip fastify's handler). */
  onFrame(raw: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): Promise<void> {
    this.inFlight++;
    // the first frame waits for the LISTEN, so an outbid right after this socket's first bid is not missed
    if (!this.personal) this.chain = this.personal = this.listenPersonal();
    const next = this.chain.then(() => this.process(raw, isBinary)).finally(() => { this.inFlight--; });
    this.chain = next;
    return next;
  }

  private async process(raw: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) {
    if (!this.allow()) {
      if (++this.strikes > this.deps.app.config.WS_RATE_BURST) this.close(CLOSE.rateLimited, 'rate limit exceeded');
      else this.error('rate_limited', `more than ${this.deps.app.config.WS_RATE_LIMIT_PER_SEC} messages per second`);
      return;
    }
    if (isBinary) return this.error('binary_not_supported', 'send JSON text frames');
    let json: unknown;
    try {
      json = JSON.parse(Buffer.isBuffer(raw) ? raw.toString('utf8') : Buffer.concat(raw as Buffer[]).toString('utf8'));
    } catch {
      return this.error('invalid_json', 'frame is not valid JSON');
    }
    const requestId = typeof (json as { request_id?: unknown })?.request_id === 'string'
      ? ((json as { request_id: string }).request_id).slice(0, 128) : undefined;
    const parsed = clientMessage.safeParse(json);
    if (!parsed.success) {
      const type = (json as { type?: unknown })?.type;
      if (typeof type !== 'string' || !CLIENT_TYPES.includes(type)) {
        return this.error('unknown_type', `type must be one of ${CLIENT_TYPES.join(', ')}`, requestId);
      }
      const details = issueDetails(parsed.error);
      return this.error('invalid_message', `the message is invalid: ${issueSummary(details)}`, requestId, undefined, details.slice(0, MAX_DETAILS));
    }
    metrics.wsMessages.inc({ type: parsed.data.type });
    try {
      // one socket's frames run in order, so a call that never settles must not hold up the rest
      await withDeadline(this.handle(parsed.data), this.deps.app.config.REQUEST_TIMEOUT_MS, () => {
        throw new OutcomeUnknownError('no answer in time; retry with the same request_id');
      });
    } catch (err) {
      const ce = err instanceof BadCursorError ? { code: 'invalid_argument', message: err.message }
        : err instanceof OutcomeUnknownError ? { code: err.code, message: err.message } : toClientError(err);
      if (ce.code === 'internal') this.log.error({ err, type: parsed.data.type }, 'message handler failed');
      this.error(ce.code, ce.message, parsed.data.request_id, 'auction_id' in parsed.data ? parsed.data.auction_id : undefined);
    }
  }

  private async handle(m: ClientMessage) {
    const { app, feeds } = this.deps;
    const rid = m.request_id;
    switch (m.type) {
      case 'ping':
        return this.reply({ type: 'pong', request_id: rid });

      case 'subscribe': {
        if (this.subscriptions.has(m.auction_id)) {
          await feeds.unsubscribe(m.auction_id, this);
          this.subscriptions.delete(m.auction_id);
          metrics.subscriptions.dec();
        } else if (this.subscriptions.size >= app.config.WS_MAX_SUBSCRIPTIONS) {
          return this.error('too_many_subscriptions', `at most ${app.config.WS_MAX_SUBSCRIPTIONS} auctions per socket`, rid, m.auction_id);
        }
        this.subscriptions.add(m.auction_id);
        metrics.subscriptions.inc();
        const found = await feeds.subscribe(m.auction_id, this, (a) => {
          this.reply({ type: 'auction_update', auction_id: a.id, request_id: rid, seq: a.seq, data: { subscribed: true, ...snapshot(a) } });
        }, m.data?.since_seq).catch(async (err) => {
          this.subscriptions.delete(m.auction_id);
          metrics.subscriptions.dec();
          throw err;
        });
        if (!found) {
          this.subscriptions.delete(m.auction_id);
          metrics.subscriptions.dec();
          return this.error('auction_not_found', 'no such auction', rid, m.auction_id);
        }
        if (this.closed) await feeds.unsubscribe(m.auction_id, this);
        return;
      }

      case 'unsubscribe': {
        if (this.subscriptions.delete(m.auction_id)) {
          metrics.subscriptions.dec();
          await feeds.unsubscribe(m.auction_id, this);
        }
        const a = await getAuction(app.pg.sql, m.auction_id);
        if (!a) return this.error('auction_not_found', 'no such auction', rid, m.auction_id);
        return this.reply({ type: 'auction_update', auction_id: a.id, request_id: rid, seq: a.seq, data: { subscribed: false, ...snapshot(a) } });
      }

      case 'place_bid': {
        const r = await app.placeBid({ auctionId: m.auction_id, userId: this.userId, amount: m.data.amount, maxAmount: m.data.max_amount, requestId: rid });
        if (r.accepted) {
          return this.reply({ type: 'bid_accepted', auction_id: m.auction_id, request_id: rid, seq: r.seq!, data: acceptedView(r) });
        }
        const { message: text, data } = rejectedView(r);
        return this.reply({ type: 'bid_rejected', auction_id: m.auction_id, request_id: rid,
          error: { code: r.reason!, message: text }, data: { ...data, amount: toJsonAmount(m.data.amount), max_amount: toJsonAmount(m.data.max_amount) } });
      }

      case 'buy_now': {
        const r = await buyNow(app.pg.sql, { auctionId: m.auction_id, userId: this.userId, requestId: rid });
        return this.reply({ type: 'bid_accepted', auction_id: m.auction_id, request_id: rid, seq: r.seq!, data: { ...acceptedView(r), bought: true } });
      }

      case 'create_auction': {
        const d = m.data;
        const a = await createAuction(app.pg.sql, auctionInput(this.userId, d),
          (app as unknown as { scheduleAuction?: Scheduler }).scheduleAuction);
        return this.reply({ type: 'auction_created', auction_id: a.id, request_id: rid, seq: a.seq, data: snapshot(a) });
      }

      case 'get_auction': {
        const a = await getAuction(app.pg.sql, m.auction_id);
        if (!a) return this.error('auction_not_found', 'no such auction', rid, m.auction_id);
        return this.reply({ type: 'auction_update', auction_id: a.id, request_id: rid, seq: a.seq, data: { subscribed: this.subscriptions.has(a.id), ...snapshot(a) } });
      }

      case 'list_auctions': {
        const d = m.data ?? { limit: 20 };
        const page = await listAuctions(app.pg.db, { limit: d.limit ?? 20, cursor: d.cursor, status: d.status });
        return this.reply({ type: 'auction_list', request_id: rid, data: { auctions: page.auctions.map(snapshot), next_cursor: page.next_cursor } });
      }
    }
  }
}
