import type { FastifyBaseLogger } from 'fastify';
import type { BidRow, NamedAuction } from '../domain/auctions.ts';
import { metrics } from '../metrics.ts';
import { DIALECTS, type DialectName } from '../protocol/dialects.ts';
import * as original from '../protocol/original/render.ts';
import { bidPlaced, message, snapshot, statusChanged, type NamedBidEvent } from '../protocol/render.ts';
import { missedStatusEvents, type KnownStatus } from '../protocol/status.ts';
import { withDeadline } from '../util/deadline.ts';
import { Outgoing } from './frames.ts';
import type { ListenHub } from './listen-hub.ts';
import { parseAuctionNotification, type AuctionEvent, type BidEvent, type StatusEvent } from './notifications.ts';

export interface Subscriber {
  /** a string is one socket's own message; an Outgoing is shared by every subscriber of a broadcast */
  send(m: string | Outgoing): void;
  /** the subscription failed after its snapshot went out: the peer believes it is subscribed and must start over */
  resubscribe(reason: string): void;
  /** the rendering this member reads broadcasts in (ours when absent) */
  readonly dialect?: DialectName;
}

/** What a feed broadcasts, before it is rendered in a dialect. */
type FeedEvent =
  | { kind: 'bid'; bid: BidRow | NamedBidEvent }
  | { kind: 'status'; event: StatusEvent; winnerName: string | null }
  | { kind: 'missed'; auction: NamedAuction };

/** Each dialect's rendering of a feed's events; undefined: that dialect has no such message. */
const RENDER: Record<DialectName, (e: FeedEvent) => object | undefined> = {
  auction: (e) => e.kind === 'bid' ? bidPlaced(e.bid) : e.kind === 'status' ? statusChanged(e.event, e.winnerName)
    : message<'auction_update'>({ type: 'auction_update', auction_id: e.auction.id, seq: e.auction.seq, data: snapshot(e.auction) }),
  original: (e) => e.kind === 'bid' ? original.bidPlaced(e.bid) : e.kind === 'status' ? original.statusChanged(e.event)
    : original.missedStatus(e.auction),
};
const dialectOf = (s: Subscriber): DialectName => s.dialect ?? 'auction';

/** What a subscription hands back: the only record of who watches what is the feed's own member set. */
export type FeedSubscription = { readonly auctionId: string; unsubscribe(): Promise<void> };
/** A replay of `rows` bids the subscriber may run now (0), or the seconds until it may. */
export type ReplayBudget = (rows: number) => number;
type ReplayRefused = { retryAfterSec: number };

/** A subscribe with since_seq refused before anything was sent: the replay is over the socket's budget. */
export class ReplayRefusedError extends Error {
  readonly retryAfterSec: number;
  constructor(retryAfterSec: number) {
    super(`replay budget spent: subscribe with since_seq again in ${retryAfterSec} s`);
    this.retryAfterSec = retryAfterSec;
  }
}

/** The reads a feed makes: the auction, its bid log after a seq, and a live bidder's name. */
export type FeedSource = {
  getAuction(id: string): Promise<NamedAuction | undefined>;
  bidsSince(auctionId: string, afterSeq: number, limit: number): Promise<BidRow[]>;
  userName(id: string): Promise<string>;
};
export type ChannelHub = Pick<ListenHub, 'subscribe' | 'onResync'>;

export type FeedOptions = {
  /**
   * A feed's steps run one after another, so a read that never settles (postgres.js after a connection reset)
   * would stall the auction for every socket of this instance: a read fails its step after this long (5000).
   */
  readDeadlineMs?: number;
  /** after the LISTEN connection came back, how long to wait before refresh attempt n (0-based) fails over to n+1 */
  resyncDelayMs?: (attempt: number) => number;
  resyncAttempts?: number;
  /**
   * WS_BROADCAST_COALESCE_MS: a notification waits this long for others on the same auction, so that they go out
   * in one write per socket (0: at once). `timer` is the clock that waits, replaceable in tests.
   */
  coalesceMs?: number;
  timer?: (fn: () => void, ms: number) => void;
};

/** Sockets written to between two turns of the event loop: a broadcast to 10,000 must not hold it for 100 ms. */
const SLICE = 256;
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
/** A batch this large goes out before more is added, so one write stays far below WS_MAX_BUFFERED_BYTES. */
const BATCH_CHARS = 32 * 1024;

type Coalesce = { ms: number; timer: (fn: () => void, ms: number) => void };
/** One batch: the events sealed together, rendered in each dialect read here (absent: nothing in that dialect). */
type Batch = Map<DialectName, Outgoing>;
type Reads = { auction(): Promise<NamedAuction | undefined>; bids(after: number): Promise<BidRow[]>; userName(id: string): Promise<string> };

/**
 * What this instance knows of one watched auction, and who watches it here. Every event passes through one
 * promise chain, so members see bids in seq order with no gap: a jump in seq is filled from the bids table
 * first, and a seq already delivered is dropped.
 */
class AuctionFeed {
  readonly id: string;
  private lastSeq = -1;
  /** joins under way; a feed is never dropped while one is */
  private joining = 0;
  /** LISTEN failed: joiners must not join a feed that hears nothing */
  private failed = false;
  private known: KnownStatus | undefined;
  /** each member with the number of batches it has been written (see flush) */
  private readonly members = new Map<Subscriber, number>();
  /** members per dialect: an event is rendered only in the dialects someone here reads */
  private readonly readers = new Map<DialectName, number>();
  private chain: Promise<void> = Promise.resolve();
  /** notifications not yet taken by a drain step, and whether one is queued in the chain */
  private inbox: AuctionEvent[] = [];
  private draining = false;
  /** messages for every member not yet sealed into a batch, per dialect */
  private out: Batch = new Map();
  private outSize = 0;
  /** batches sealed so far; the last `pending.length` of them are not yet written to every member */
  private level = 0;
  private pending: Batch[] = [];
  /** what a member of a dialect `k` batches behind is written, made once per level for all such members */
  private behind = new Map<string, Outgoing | undefined>();
  private passing = false;
  private unlisten: (() => Promise<void>) | undefined;
  private reads: Reads;
  private log: FastifyBaseLogger;
  private coalesce: Coalesce;

  constructor(id: string, reads: Reads, log: FastifyBaseLogger, coalesce: Coalesce) {
    this.id = id;
    this.reads = reads;
    this.log = log;
    this.coalesce = coalesce;
  }

  get idle() {
    return this.members.size === 0 && this.joining === 0;
  }

  /** LISTEN is the feed's first step: events and joiners queue behind it. */
  listen(hub: ChannelHub, onFailure: () => void) {
    void this.run(async () => {
      this.unlisten = await hub.subscribe(`auction:${this.id}`, (payload) => {
        const events = parseAuctionNotification(payload);
        if (events) for (const e of events) this.onEvent(e);
        else this.log.error({ payload }, 'unparseable notification');
      });
    }).catch(() => {
      this.failed = true;
      onFailure();
    });
  }

  /**
   * Adds a member: the auction is read after LISTEN, so nothing committed in between is missed. `onSnapshot`
   * runs inside the chain, before any later event reaches the member; bids after `sinceSeq` are replayed
   * to it from the database. Resolves to undefined when the auction does not exist.
   */
  async join(sub: Subscriber, onSnapshot: (a: NamedAuction) => void, sinceSeq: number | undefined,
    budget?: ReplayBudget): Promise<NamedAuction | ReplayRefused | undefined> {
    this.joining++;
    try {
      return await this.run(async (): Promise<NamedAuction | ReplayRefused | undefined> => {
        if (this.failed) throw new Error(`could not listen on auction:${this.id}`);
        const a = await this.refresh();
        if (!a) return undefined;
        // the replay runs in this feed's chain, ahead of every member's live events: its size is bounded per socket
        const wait = sinceSeq !== undefined && budget ? budget(Math.max(0, this.lastSeq - Math.max(0, sinceSeq))) : 0;
        if (wait > 0) return { retryAfterSec: wait };
        onSnapshot(a);
        if (sinceSeq !== undefined) {
          try {
            const render = RENDER[dialectOf(sub)];
            await this.eachBid(Math.max(0, sinceSeq), this.lastSeq, (r) => {
              const m = render({ kind: 'bid', bid: r });
              if (m) sub.send(JSON.stringify(m));
            });
          } catch (err) {
            // the peer already holds its snapshot: a replay cut short must not leave it subscribed to nothing
            sub.resubscribe('the replay since since_seq failed');
            throw err;
          }
        }
        this.members.set(sub, this.level); // its snapshot and replay cover every batch so far
        this.readers.set(dialectOf(sub), (this.readers.get(dialectOf(sub)) ?? 0) + 1);
        metrics.subscriptions.inc();
        return a;
      });
    } finally {
      this.joining--;
    }
  }

  /** One that leaves while a broadcast is under way is skipped for the rest of it. */
  leave(sub: Subscriber) {
    if (!this.members.delete(sub)) return;
    this.readers.set(dialectOf(sub), this.readers.get(dialectOf(sub))! - 1);
    metrics.subscriptions.dec();
  }

  stop() {
    return this.run(async () => {
      await this.unlisten?.();
    });
  }

  /** After the LISTEN connection came back: fill from the database before live events, retrying while the pool reconnects. */
  resync(attempts: number, delayMs: (attempt: number) => number) {
    void this.run(async () => {
      for (let attempt = 0; ; attempt++) {
        try {
          await this.refresh();
          return;
        } catch (err) {
          if (attempt >= attempts) throw err;
          await new Promise((r) => setTimeout(r, delayMs(attempt)));
        }
      }
    });
  }

  private run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn);
    this.chain = next.then(() => {}, (err) => this.log.error({ err, auction: this.id }, 'feed step failed'));
    return next;
  }

  /** Adds an event, rendered once in each dialect a current member reads, to the batch that `flush` writes. */
  private async emit(e: FeedEvent) {
    for (const d of DIALECTS) {
      if (!this.readers.get(d)) continue;
      const m = RENDER[d](e);
      if (!m) continue;
      let out = this.out.get(d);
      if (!out) this.out.set(d, (out = new Outgoing()));
      this.outSize -= out.size;
      out.add(m);
      this.outSize += out.size;
    }
    if (this.outSize < BATCH_CHARS) return;
    if (this.passing) this.seal(); // a catch-up during a pass: the members not yet reached get it in this pass
    else await this.flush();
  }

  /** The batch being built becomes the next level. */
  private seal() {
    if (this.out.size === 0) return;
    this.pending.push(this.out);
    this.out = new Map();
    this.outSize = 0;
    this.level++;
    this.behind.clear();
  }

  /**
   * Writes every member what it has not been written yet, one write each. Runs inside the chain, so later
   * events wait for it; between slices of sockets it lets the loop run (replies, pings, notifications), and
   * what arrived meanwhile joins the pass: the members not yet reached get it with the rest in the same write,
   * those already written get it in the next pass. So at a busy auction no member waits two passes for an
   * event. Members join only inside the chain, so none joins halfway; one that leaves halfway is skipped.
   */
  private async flush() {
    this.seal();
    if (this.pending.length === 0) return;
    this.passing = true;
    try {
      let n = 0;
      let sends = 0;
      for (let again = true; again;) {
        again = false;
        for (const [s, got] of this.members) {
          if (got < this.level) {
            const out = this.since(got, dialectOf(s));
            if (out) {
              s.send(out);
              sends += out.texts.length;
            }
            this.members.set(s, this.level);
          }
          if (++n % SLICE === 0) {
            await nextTurn();
            if (await this.absorb()) again = true;
          }
        }
      }
      metrics.fanoutSends.inc(sends);
    } finally {
      this.passing = false;
      this.pending = [];
      this.behind.clear();
    }
  }

  /** The batches after the first `got` in one dialect, joined: made once per level, dialect and lag. */
  private since(got: number, d: DialectName): Outgoing | undefined {
    const lag = this.level - got;
    const key = `${d}:${lag}`;
    if (!this.behind.has(key)) {
      const parts = this.pending.slice(this.pending.length - lag).map((b) => b.get(d)).filter((o) => o !== undefined);
      this.behind.set(key, parts.length ? Outgoing.joined(parts) : undefined);
    }
    return this.behind.get(key);
  }

  /** Mid-pass: applies the notifications that arrived since the pass began; true when they made a new batch. */
  private async absorb(): Promise<boolean> {
    if (this.inbox.length === 0) return false;
    const before = this.level;
    await this.applyAll();
    this.seal();
    return this.level > before;
  }

  /** Calls `fn` for each stored bid with after < seq <= upTo, in seq order, a page at a time. */
  private async eachBid(after: number, upTo: number, fn: (r: BidRow) => void | Promise<void>) {
    while (after < upTo) {
      const rows = await this.reads.bids(after);
      if (rows.length === 0) return;
      for (const r of rows) {
        if (r.seq > upTo) return;
        await fn(r);
        after = r.seq;
      }
    }
  }

  /** Brings lastSeq up to `toSeq` from the database, sending each bid to the current members. */
  private async catchUp(toSeq: number) {
    await this.eachBid(this.lastSeq, toSeq, async (r) => {
      this.lastSeq = r.seq;
      await this.emit({ kind: 'bid', bid: r });
    });
  }

  /** Reads the auction and sends the current members what they missed; a member added next starts from here. */
  private async refresh(): Promise<NamedAuction | undefined> {
    const a = await this.reads.auction();
    if (!a) return undefined;
    if (this.lastSeq < 0) this.lastSeq = a.seq;
    else await this.catchUp(a.seq);
    const snap = snapshot(a);
    // a status change or extension was missed while LISTEN was down: members get the snapshot
    if (this.known && missedStatusEvents(this.known, snap, Date.now()).length > 0) await this.emit({ kind: 'missed', auction: a });
    await this.flush();
    this.known = { status: snap.status, end_time: snap.end_time };
    return a;
  }

  /**
   * A notification joins the inbox; one step in the chain takes every notification that arrived meanwhile and
   * writes them in one batch. So a fan-out that falls behind catches up with fewer, larger writes.
   */
  private onEvent(e: AuctionEvent) {
    this.inbox.push(e);
    if (this.draining) return;
    this.draining = true;
    const { ms, timer } = this.coalesce;
    if (ms > 0) timer(() => void this.run(() => this.drain()), ms);
    else void this.run(() => this.drain());
  }

  private async drain() {
    this.draining = false; // what arrives from here on waits for the next step (or joins this one's pass)
    await this.applyAll();
    await this.flush();
  }

  private async applyAll() {
    const events = this.inbox;
    this.inbox = [];
    for (const e of events) {
      try {
        await this.apply(e);
      } catch (err) {
        // as when each event had its own step: the next bid's seq gap brings back what this one missed
        this.log.error({ err, auction: this.id }, 'feed step failed');
      }
    }
  }

  private async apply(e: AuctionEvent) {
    if (this.lastSeq < 0) return; // not initialised: the snapshot read after LISTEN includes it
    if (e.type === 'bid_placed') {
      if (e.seq <= this.lastSeq) return;
      if (e.seq > this.lastSeq + 1) await this.catchUp(e.seq - 1);
      if (e.seq !== this.lastSeq + 1) return; // catch-up already delivered it
      const user_name = await this.reads.userName(e.user_id); // cached: a round trip only for a bidder new to this instance
      metrics.notifyLag.observe(Math.max(0, Date.now() - Date.parse(e.time)) / 1000);
      this.lastSeq = e.seq;
      await this.emit({ kind: 'bid', bid: { ...(e as BidEvent), user_name } });
    } else {
      if (e.seq > this.lastSeq) await this.catchUp(e.seq);
      const winnerName = e.winner_id ? await this.reads.userName(e.winner_id) : null;
      if (this.known) this.known = { status: (e.status ?? 'active') as KnownStatus['status'], end_time: e.end_time || this.known.end_time };
      await this.emit({ kind: 'status', event: e, winnerName });
    }
  }
}

/** The auctions this instance's sockets watch, each with its feed; a feed lives while it has members. */
export class Feeds {
  private feeds = new Map<string, AuctionFeed>();
  private source: FeedSource;
  private hub: ChannelHub;
  private log: FastifyBaseLogger;
  private readDeadlineMs: number;
  private resyncAttempts: number;
  private resyncDelayMs: (attempt: number) => number;
  private coalesce: Coalesce;

  constructor(source: FeedSource, hub: ChannelHub, log: FastifyBaseLogger, opts: FeedOptions = {}) {
    this.source = source;
    this.hub = hub;
    this.log = log;
    this.readDeadlineMs = opts.readDeadlineMs ?? 5_000;
    this.resyncAttempts = opts.resyncAttempts ?? 20;
    this.resyncDelayMs = opts.resyncDelayMs ?? ((attempt) => Math.min(2000, 100 * 2 ** attempt));
    this.coalesce = { ms: opts.coalesceMs ?? 0, timer: opts.timer ?? ((fn, ms) => { setTimeout(fn, ms); }) };
    hub.onResync(() => this.resync());
  }

  /** auctions with a feed on this instance */
  get size() {
    return this.feeds.size;
  }

  /**
   * Makes `sub` a member of the auction's feed (see AuctionFeed.join). Resolves to the handle that ends the
   * membership, or undefined when the auction does not exist; a replay over `replayBudget` throws ReplayRefusedError.
   */
  async subscribe(auctionId: string, sub: Subscriber,
    o: { onSnapshot: (a: NamedAuction) => void; sinceSeq?: number; replayBudget?: ReplayBudget }): Promise<FeedSubscription | undefined> {
    const feed = this.feeds.get(auctionId) ?? this.open(auctionId);
    let found: NamedAuction | ReplayRefused | undefined;
    try {
      found = await feed.join(sub, o.onSnapshot, o.sinceSeq, o.replayBudget); // counted as joining in this tick: not dropped under us
    } finally {
      if (!found || 'retryAfterSec' in found) await this.dropIfIdle(feed);
    }
    if (!found) return undefined;
    if ('retryAfterSec' in found) throw new ReplayRefusedError(found.retryAfterSec);
    let done: Promise<void> | undefined;
    return {
      auctionId,
      unsubscribe: () => (done ??= (async () => {
        feed.leave(sub);
        await this.dropIfIdle(feed);
      })()),
    };
  }

  private open(auctionId: string) {
    const reads: Reads = {
      auction: () => this.bounded(this.source.getAuction(auctionId), 'reading the auction'),
      bids: (after) => this.bounded(this.source.bidsSince(auctionId, after, 1000), 'reading bids'),
      userName: (id) => this.bounded(this.source.userName(id), "reading a bidder's name"),
    };
    const feed = new AuctionFeed(auctionId, reads, this.log, this.coalesce);
    this.feeds.set(auctionId, feed);
    feed.listen(this.hub, () => {
      if (this.feeds.get(auctionId) === feed) this.feeds.delete(auctionId);
    });
    return feed;
  }

  /** A read that never settles fails its step; a later step retries. */
  private bounded<T>(read: Promise<T>, what: string) {
    return withDeadline(read, this.readDeadlineMs, () => {
      throw new Error(`feed: ${what} took over ${this.readDeadlineMs} ms`);
    });
  }

  private async dropIfIdle(f: AuctionFeed) {
    if (!f.idle || this.feeds.get(f.id) !== f) return;
    this.feeds.delete(f.id);
    await f.stop();
  }

  /** After the LISTEN connection came back: fill every feed from the database before live events. */
  private resync() {
    for (const f of this.feeds.values()) f.resync(this.resyncAttempts, this.resyncDelayMs);
  }
}
