import type { Sql } from 'postgres';
import type { FastifyBaseLogger } from 'fastify';
import { bidsSince, getAuction, snapshot, type AuctionRow, type BidRow } from '../domain/auctions.ts';
import { metrics } from '../metrics.ts';
import type { ListenHub } from './listen-hub.ts';
import { bidPlaced, message, statusChanged, type AuctionEvent, type BidEvent, type ServerMessage } from './messages.ts';

export interface Subscriber {
  send(text: string): void;
}

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

  broadcast(m: ServerMessage) {
    const text = JSON.stringify(m); // serialized once for every local subscriber
    for (const s of this.subscribers) s.send(text);
  }

  /** Calls `fn` for each stored bid with after < seq <= upTo, in seq order, a page at a time. */
  async eachBid(after: number, upTo: number, fn: (r: BidRow) => void) {
    while (after < upTo) {
      const rows = await bidsSince(this.sql, this.id, after, 1000);
      if (rows.length === 0) return;
      for (const r of rows) {
        if (r.seq > upTo) return;
        fn(r);
        after = r.seq;
      }
    }
  }

  /** Brings lastSeq up to `toSeq` from the database, sending each bid to the current subscribers. */
  async catchUp(toSeq: number) {
    await this.eachBid(this.lastSeq, toSeq, (r) => {
      this.broadcast(bidPlaced(r));
      this.lastSeq = r.seq;
    });
  }

  async refresh(): Promise<AuctionRow | undefined> {
    const a = await getAuction(this.sql, this.id);
    if (!a) return undefined;
    if (this.lastSeq < 0) this.lastSeq = a.seq;
    else await this.catchUp(a.seq);
    const known = { status: a.status, end: a.end_time.toISOString() };
    if (this.known && (this.known.status !== known.status || this.known.end !== known.end)) {
      // a status change or extension was missed while LISTEN was down
      this.broadcast(message({ type: 'auction_update', auction_id: a.id, seq: a.seq, data: snapshot(a) }));
    }
    this.known = known;
    return a;
  }

  onEvent(e: AuctionEvent) {
    void this.run(async () => {
      if (this.lastSeq < 0) return; // not initialised: the snapshot read after LISTEN includes it
      if (e.type === 'bid_placed') {
        if (e.seq <= this.lastSeq) return;
        if (e.seq > this.lastSeq + 1) await this.catchUp(e.seq - 1);
        if (e.seq !== this.lastSeq + 1) return; // catch-up already delivered it
        metrics.notifyLag.observe(Math.max(0, Date.now() - Date.parse(e.time)) / 1000);
        this.broadcast(bidPlaced(e as BidEvent));
        this.lastSeq = e.seq;
      } else {
        if (e.seq > this.lastSeq) await this.catchUp(e.seq);
        if (e.status) this.known = { status: e.status, end: e.end_time ?? this.known?.end ?? '' };
        if (e.type === 'auction_extended' && this.known) this.known.end = e.end_time ?? this.known.end;
        this.broadcast(statusChanged(e));
      }
    });
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
          await f.eachBid(Math.max(0, sinceSeq), f.lastSeq, (r) => sub.send(JSON.stringify(bidPlaced(r))));
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
