import type { Sql } from 'postgres';
import type { FastifyBaseLogger } from 'fastify';
import { bidsSince, getAuction, snapshot, type AuctionRow, type BidRow } from '../domain/auctions.ts';
import { metrics } from '../metrics.ts';
import { withDeadline } from '../util/deadline.ts';
import type { ListenHub } from './listen-hub.ts';
import { bidPlaced, message, personalMessage, statusChanged, type AuctionEvent, type BidEvent, type PersonalEvent, type ServerMessage } from './messages.ts';

/**
 * Server messages serialized once for every local subscriber: the JSON texts and, made on first use, their
 * WebSocket text frames back to back (a server's frames are unmasked, so every socket can be sent the same bytes).
 * Several messages go out in one write per socket: the cost of a send is the system call, not the bytes.
 */
export class Outgoing {
  readonly texts: string[] = [];
  /** UTF-16 length of the texts, a bound that needs no encoding */
  size = 0;
  private bytes: Buffer | undefined;

  constructor(m?: ServerMessage) {
    if (m) this.add(m);
  }

  add(m: ServerMessage) {
    const text = JSON.stringify(m);
    this.texts.push(text);
    this.size += text.length;
    this.bytes = undefined;
    metrics.fanoutMessages.inc();
  }

  get frame(): Buffer {
    return (this.bytes ??= this.texts.length === 1 ? textFrame(this.texts[0]) : Buffer.concat(this.texts.map(textFrame)));
  }
}

/** RFC 6455 §5.2: FIN + text opcode, 7/16/64-bit payload length, no mask, then the UTF-8 payload. */
export function textFrame(text: string): Buffer {
  const n = Buffer.byteLength(text);
  const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const f = Buffer.allocUnsafeSlow(head + n);
  f[0] = 0x81;
  if (head === 2) f[1] = n;
  else if (head === 4) {
    f[1] = 126;
    f.writeUInt16BE(n, 2);
  } else {
    f[1] = 127;
    f.writeBigUInt64BE(BigInt(n), 2);
  }
  f.write(text, head, 'utf8');
  return f;
}

export interface Subscriber {
  /** a string is one socket's own message; an Outgoing is shared by every subscriber of a broadcast */
  send(m: string | Outgoing): void;
  /** the subscription failed after its snapshot went out: the peer believes it is subscribed and must start over */
  resubscribe?(reason: string): void;
}

/** A socket that hears its user's own channel. */
export interface PersonalSubscriber extends Subscriber {
  readonly subscriptions: ReadonlySet<string>;
}

/**
 * A feed's steps run one after another, so a read that never settles (postgres.js after a connection reset)
 * would stall the auction for every socket of this instance: bound it. The step fails; a later step retries.
 */
const READ_DEADLINE_MS = 5_000;
const bounded = <T>(read: Promise<T>, what: string) => withDeadline(read, READ_DEADLINE_MS, () => {
  throw new Error(`feed: ${what} took over ${READ_DEADLINE_MS} ms`);
});

/** Sockets written to between two turns of the event loop: a broadcast to 10,000 must not hold it for 100 ms. */
const SLICE = 256;
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
/** A batch this large goes out before more is added, so one write stays far below WS_MAX_BUFFERED_BYTES. */
const BATCH_CHARS = 32 * 1024;

/**
 * What this instance knows of one watched auction. Every event passes through one promise chain,
 * so subscribers see bids in seq order with no gap: a jump in seq is filled from the bids table first,
 * and a seq already delivered is dropped.
 */
class AuctionFeed {
  readonly id: string;
  lastSeq = -1;
  /** subscribe calls holding this feed; a feed is never dropped while one is under way */
  pending = 0;
  /** LISTEN failed: pending subscribers must not join a feed that hears nothing */
  failed = false;
  known: { status: string; end: string } | undefined;
  readonly subscribers = new Set<Subscriber>();
  private chain: Promise<void> = Promise.resolve();
  /** notifications not yet taken by a drain step, and whether one is queued in the chain */
  private inbox: AuctionEvent[] = [];
  private draining = false;
  /** messages for every subscriber not yet written */
  private out: Outgoing | undefined;
  unlisten: (() => Promise<void>) | undefined;
  private sql: Sql;
  private log: FastifyBaseLogger;

  constructor(id: string, sql: Sql, log: FastifyBaseLogger) {
    this.id = id;
    this.sql = sql;
    this.log = log;
  }

  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn);
    this.chain = next.then(() => {}, (err) => this.log.error({ err, auction: this.id }, 'feed step failed'));
    return next;
  }

  /** Adds a message for every current subscriber to the batch that `flush` writes. */
  async emit(m: ServerMessage) {
    (this.out ??= new Outgoing()).add(m);
    if (this.out.size >= BATCH_CHARS) await this.flush();
  }

  /**
   * Writes the batch to every subscriber, one write each. Runs inside the chain, so later events wait for it;
   * between slices of sockets it lets the loop run (replies, pings, notifications). Subscribers join only
   * inside the chain, so none joins halfway; one that leaves halfway is skipped.
   */
  async flush() {
    const out = this.out;
    if (!out) return;
    this.out = undefined;
    let n = 0;
    for (const s of this.subscribers) {
      s.send(out);
      if (++n % SLICE === 0) await nextTurn();
    }
    metrics.fanoutSends.inc(n * out.texts.length);
  }

  /** Calls `fn` for each stored bid with after < seq <= upTo, in seq order, a page at a time. */
  async eachBid(after: number, upTo: number, fn: (r: BidRow) => void | Promise<void>) {
    while (after < upTo) {
      const rows = await bounded(bidsSince(this.sql, this.id, after, 1000), 'reading bids');
      if (rows.length === 0) return;
      for (const r of rows) {
        if (r.seq > upTo) return;
        await fn(r);
        after = r.seq;
      }
    }
  }

  /** Brings lastSeq up to `toSeq` from the database, sending each bid to the current subscribers. */
  async catchUp(toSeq: number) {
    await this.eachBid(this.lastSeq, toSeq, async (r) => {
      this.lastSeq = r.seq;
      await this.emit(bidPlaced(r));
    });
  }

  /** Reads the auction and sends the current subscribers what they missed; a subscriber added next starts from here. */
  async refresh(): Promise<AuctionRow | undefined> {
    const a = await bounded(getAuction(this.sql, this.id), 'reading the auction');
    if (!a) return undefined;
    if (this.lastSeq < 0) this.lastSeq = a.seq;
    else await this.catchUp(a.seq);
    const known = { status: a.status, end: a.end_time.toISOString() };
    if (this.known && (this.known.status !== known.status || this.known.end !== known.end)) {
      // a status change or extension was missed while LISTEN was down
      await this.emit(message({ type: 'auction_update', auction_id: a.id, seq: a.seq, data: snapshot(a) }));
    }
    await this.flush();
    this.known = known;
    return a;
  }

  /**
   * A notification joins the inbox; one step in the chain takes every notification that arrived meanwhile and
   * writes them in one batch. So a fan-out that falls behind catches up with fewer, larger writes.
   */
  onEvent(e: AuctionEvent) {
    this.inbox.push(e);
    if (this.draining) return;
    this.draining = true;
    void this.run(() => this.drain());
  }

  private async drain() {
    const events = this.inbox;
    this.inbox = [];
    this.draining = false; // what arrives from here on waits for the next step
    for (const e of events) {
      try {
        await this.apply(e);
      } catch (err) {
        // as when each event had its own step: the next bid's seq gap brings back what this one missed
        this.log.error({ err, auction: this.id }, 'feed step failed');
      }
    }
    await this.flush();
  }

  private async apply(e: AuctionEvent) {
    if (this.lastSeq < 0) return; // not initialised: the snapshot read after LISTEN includes it
    if (e.type === 'bid_placed') {
      if (e.seq <= this.lastSeq) return;
      if (e.seq > this.lastSeq + 1) await this.catchUp(e.seq - 1);
      if (e.seq !== this.lastSeq + 1) return; // catch-up already delivered it
      metrics.notifyLag.observe(Math.max(0, Date.now() - Date.parse(e.time)) / 1000);
      this.lastSeq = e.seq;
      await this.emit(bidPlaced(e as BidEvent));
    } else {
      if (e.seq > this.lastSeq) await this.catchUp(e.seq);
      if (e.status) this.known = { status: e.status, end: e.end_time ?? this.known?.end ?? '' };
      if (e.type === 'auction_extended' && this.known) this.known.end = e.end_time ?? this.known.end;
      await this.emit(statusChanged(e));
    }
  }
}

export class Feeds {
  private feeds = new Map<string, AuctionFeed>();
  private sql: Sql;
  private hub: ListenHub;
  private log: FastifyBaseLogger;

  constructor(sql: Sql, hub: ListenHub, log: FastifyBaseLogger) {
    this.sql = sql;
    this.hub = hub;
    this.log = log;
    hub.onResync(() => this.resync());
  }

  get size() {
    return this.feeds.size;
  }

  /**
   * Adds a subscriber: LISTEN first, then read the auction, so nothing committed in between is missed.
   * `onSnapshot` runs inside the feed's chain, before any later event reaches the subscriber; bids after
   * `sinceSeq` are replayed to it from the database. Returns undefined when the auction does not exist.
   */
  async subscribe(auctionId: string, sub: Subscriber, onSnapshot: (a: AuctionRow) => void, sinceSeq?: number) {
    let feed = this.feeds.get(auctionId);
    if (!feed) {
      const created = new AuctionFeed(auctionId, this.sql, this.log);
      feed = created;
      this.feeds.set(auctionId, created);
      // listening is the first step in the chain; events and other subscribers queue behind it
      void created.run(async () => {
        created.unlisten = await this.hub.subscribe(`auction:${auctionId}`, (payload) => {
          let e: AuctionEvent;
          try {
            e = JSON.parse(payload);
          } catch {
            this.log.error({ payload }, 'unparseable notification');
            return;
          }
          created.onEvent(e);
        });
      }).catch(() => {
        created.failed = true;
        if (this.feeds.get(auctionId) === created) this.feeds.delete(auctionId);
      });
    }
    const f = feed;
    f.pending++; // taken in the same tick as the lookup, so dropIfIdle cannot remove it under us
    let found: AuctionRow | undefined;
    try {
      found = await f.run(async () => {
        if (f.failed) throw new Error(`could not listen on auction:${auctionId}`);
        const a = await f.refresh();
        if (!a) return undefined;
        onSnapshot(a);
        if (sinceSeq !== undefined) {
          try {
            await f.eachBid(Math.max(0, sinceSeq), f.lastSeq, (r) => sub.send(JSON.stringify(bidPlaced(r))));
          } catch (err) {
            // the peer already holds its snapshot: a replay cut short must not leave it subscribed to nothing
            sub.resubscribe?.('the replay since since_seq failed');
            throw err;
          }
        }
        f.subscribers.add(sub);
        return a;
      });
    } finally {
      f.pending--;
      if (!found) await this.dropIfIdle(f);
    }
    return found;
  }

  async unsubscribe(auctionId: string, sub: Subscriber) {
    const f = this.feeds.get(auctionId);
    if (!f) return;
    f.subscribers.delete(sub);
    await this.dropIfIdle(f);
  }

  /**
   * The user's own channel (outbid, results of their auctions and their wins) for one socket; returns the undo.
   * Messages to one user go to that user's sockets only, so each is serialized per socket.
   */
  listenUser(userId: string, sub: PersonalSubscriber): Promise<() => Promise<void>> {
    return this.hub.subscribe(`user:${userId}`, (payload) => {
      const e = JSON.parse(payload) as PersonalEvent;
      const m = personalMessage(e, sub.subscriptions.has(e.auction_id));
      if (m) sub.send(JSON.stringify(m));
    });
  }

  private async dropIfIdle(f: AuctionFeed) {
    if (f.subscribers.size > 0 || f.pending > 0 || this.feeds.get(f.id) !== f) return;
    this.feeds.delete(f.id);
    await f.run(async () => {
      await f.unlisten?.();
    });
  }

  /** After the LISTEN connection came back: fill every feed from the database before live events. */
  resync() {
    for (const f of this.feeds.values()) {
      void f.run(async () => {
        // the pool may still be reconnecting after a database restart: retry, or this feed stays behind
        for (let attempt = 0; ; attempt++) {
          try {
            await f.refresh();
            return;
          } catch (err) {
            if (attempt >= 20) throw err;
            await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** attempt)));
          }
        }
      });
    }
  }
}
