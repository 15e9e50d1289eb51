import type { FastifyBaseLogger } from 'fastify';
import { randomUUID } from 'node:crypto';
import { toClientError } from '../db/errors.ts';
import { OutcomeUnknownError } from '../domain/bids.ts';
import { metrics } from '../metrics.ts';
import { CLOSE } from '../protocol/close-codes.ts';
import type { DialectName } from '../protocol/dialects.ts';
import type { ServerMessage } from '../protocol/messages.ts';
import { withDeadline } from '../util/deadline.ts';
import type { SocketDialect } from './dialect.ts';
import type { ChannelHub, FeedSubscription, Subscriber } from './feeds.ts';
import type { Outgoing } from './frames.ts';
import type { SessionContext } from './handlers.ts';
import { PersonalChannel } from './personal.ts';
import type { SocketTransport } from './transport.ts';
import { TokenBucket } from './token-bucket.ts';

export type SessionDeps = {
  /** the dialects this instance speaks, by name: a socket's was chosen at its upgrade */
  dialects: Record<DialectName, SocketDialect>;
  hub: ChannelHub;
  /** a user's display name (the personal channel's results name the winner) */
  userName: (id: string) => Promise<string>;
  log: FastifyBaseLogger;
  /** a message without an answer by then replies outcome_unknown, so one call that never settles holds up nothing */
  requestTimeoutMs: number;
  ratePerSec: number;
  /** one message against the bucket all of this user's sockets share: false when it is empty */
  takeUserMessage: (userId: string) => boolean;
  userRatePerSec: number;
  /** bids one socket may have replayed per second (subscribe with since_seq), and the burst */
  replayRowsPerSec: number;
  replayBurst: number;
};

const settled = Promise.resolve();
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * One connected user: each frame parsed and validated, run by its handler in order, and answered; also a
 * feed member for every auction it watches, and the listener of the user's own channel.
 * An idle socket costs little: the logger, its id and the user's own channel come with the first use.
 */
export class Session implements Subscriber, SessionContext {
  readonly userId: string;
  readonly transport: SocketTransport;
  readonly subscriptions = new Map<string, FeedSubscription>();
  /** frames received and not yet answered */
  inFlight = 0;
  private deps: SessionDeps;
  private chain: Promise<void> = settled;
  private personal: PersonalChannel | undefined;
  private logger: FastifyBaseLogger | undefined;
  private ended = false;
  private replays: TokenBucket | undefined;
  private expiry: NodeJS.Timeout | undefined;
  private speaks: SocketDialect;

  constructor(transport: SocketTransport, userId: string, deps: SessionDeps, dialect: DialectName = 'auction') {
    this.transport = transport;
    this.userId = userId;
    this.deps = deps;
    this.speaks = deps.dialects[dialect];
  }

  /** the dialect this socket speaks: feeds render broadcasts in it */
  get dialect(): DialectName {
    return this.speaks.name;
  }

  get log(): FastifyBaseLogger {
    return (this.logger ??= this.deps.log.child({ conn: randomUUID(), user: this.userId }));
  }

  readonly replayBudget = (rows: number) =>
    (this.replays ??= new TokenBucket(this.deps.replayRowsPerSec, this.deps.replayBurst)).takeMany(rows);

  get subscriber(): Subscriber {
    return this;
  }

  get closing() {
    return this.ended || this.transport.isClosing;
  }

  get isClosing() {
    return this.transport.isClosing;
  }

  send(m: string | Outgoing) {
    this.transport.send(m);
  }

  reply(m: ServerMessage) {
    if (m.type === 'error') metrics.wsErrors.inc({ code: m.error.code });
    this.transport.send(JSON.stringify(m));
  }

  sendText(text: string) {
    this.transport.send(text);
  }

  /** An error in this socket's dialect. */
  private fail(code: string, text: string, requestId?: string, auctionId?: string) {
    metrics.wsErrors.inc({ code });
    this.transport.send(this.speaks.error(code, text, requestId, auctionId));
  }

  /** A subscription broke after its snapshot was sent: closing makes the client resume every subscription by seq. */
  resubscribe(reason: string) {
    this.transport.close(CLOSE.tryAgain, `${reason}: reconnect and resubscribe with since_seq`);
  }

  close(code: number, reason: string) {
    this.transport.close(code, reason);
  }

  terminate() {
    this.transport.terminate();
  }

  /** Entry point for every frame: one socket's frames run in order; never throws (errors here would skip fastify's handler). */
  onFrame(raw: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): Promise<void> {
    this.inFlight++;
    // the first frame waits for the LISTEN, so an outbid right after this socket's first bid is not missed
    if (!this.personal && this.speaks.personal) {
      this.personal = new PersonalChannel({
        hub: this.deps.hub, userId: this.userId, deliver: (text) => this.transport.send(text),
        watching: (id) => this.subscriptions.has(id), userName: this.deps.userName, log: () => this.log,
      });
      this.chain = this.personal.start();
    }
    const next = this.chain.then(() => this.process(raw, isBinary)).finally(() => { this.inFlight--; });
    this.chain = next;
    return next;
  }

  /** At `expiresAt` (its token's exp) the socket closes with 4001, unless an `authenticate` moves it. */
  expireAt(expiresAt: number) {
    clearTimeout(this.expiry);
    const wait = expiresAt - Date.now();
    // setTimeout holds at most 2^31-1 ms (24.8 days): a longer token re-arms on the way
    this.expiry = wait > MAX_TIMER_MS ? setTimeout(() => this.expireAt(expiresAt), MAX_TIMER_MS)
      : setTimeout(() => this.close(CLOSE.tokenExpired, 'token expired: reconnect with a fresh token'), Math.max(0, wait));
    this.expiry.unref();
  }

  /** The socket closed: every membership and the user's channel are let go. */
  async end() {
    this.ended = true;
    clearTimeout(this.expiry);
    void this.personal?.close();
    const held = [...this.subscriptions.values()];
    this.subscriptions.clear();
    await Promise.all(held.map((s) => s.unsubscribe()));
  }

  private async process(raw: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) {
    const frame = this.transport.admit(raw, isBinary);
    if ('closed' in frame) return;
    if ('refused' in frame) {
      return frame.refused === 'binary' ? this.fail('binary_not_supported', 'send JSON text frames')
        : this.fail('rate_limited', `more than ${this.deps.ratePerSec} messages per second`);
    }
    if (!this.deps.takeUserMessage(this.userId)) {
      return this.fail('rate_limited', `more than ${this.deps.userRatePerSec} messages per second across this user's sockets`);
    }
    const m = this.speaks.parse(frame.text);
    if ('refusal' in m) {
      metrics.wsErrors.inc({ code: m.code });
      return this.transport.send(m.refusal);
    }
    metrics.wsMessages.inc({ type: m.type });
    try {
      // one socket's frames run in order, so a call that never settles must not hold up the rest
      await withDeadline(m.run(this), this.deps.requestTimeoutMs, () => {
        throw new OutcomeUnknownError('no answer in time; retry with the same request_id');
      });
    } catch (err) {
      const ce = toClientError(err);
      if (ce.code === 'internal') this.log.error({ err, type: m.type }, 'message handler failed');
      this.fail(ce.code, ce.message, m.requestId, m.auctionId);
    }
  }
}
