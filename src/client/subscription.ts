// One watched auction: what the client knows of it, its own typed events, and how it resumes.
import { Emitter } from './emitter.ts';
import type { AuctionError } from './errors.ts';
import type { AuctionUpdateData, ServerMessage, StatusMessage, StatusType } from '../protocol/messages.ts';
import { missedStatusEvents, type KnownStatus } from '../protocol/status.ts';

/** A message about one auction, as given to listeners. */
export type AuctionEvent<T extends 'bid_placed' | 'auction_update' | 'outbid' | StatusType> = ServerMessage<T> & {
  auction_id: string;
  /** set on status events the client derived from a snapshot after a reconnect (the real one was missed) */
  resumed?: boolean;
};
export type StatusEvent = AuctionEvent<StatusType>;

export type SubscriptionEvents = {
  /** an accepted bid, once each, in seq order (replayed ones after a reconnect too) */
  bid: AuctionEvent<'bid_placed'>;
  /** started, extended, ended or cancelled, once each; `resumed: true` when derived after a reconnect */
  status: StatusEvent;
  /** a snapshot: the subscribe reply (again after each reconnect) and the server's unrequested refresh */
  snapshot: AuctionEvent<'auction_update'>;
  /** you lost the lead on this auction */
  outbid: AuctionEvent<'outbid'>;
  /** a resubscribe after a reconnect failed; the subscription is over */
  error: AuctionError;
};

export type SubscriptionState = 'subscribing' | 'subscribed' | 'resuming' | 'unsubscribed';

/** Keeps a bounded set of keys; false when the key was there already. */
export function remember(set: Set<string>, key: string): boolean {
  if (set.has(key)) return false;
  set.add(key);
  if (set.size > 256) set.delete(set.values().next().value!);
  return true;
}

/**
 * A subscription to one auction: `client.subscribe(id)` returns it at once, so listeners are attached before
 * any message can arrive. It resubscribes itself after every reconnect with `since_seq`, drops what was
 * already delivered, and derives the status changes missed while away (after the replayed bids).
 */
export class AuctionSubscription extends Emitter<SubscriptionEvents> {
  readonly auctionId: string;
  /** resolves with the first snapshot; rejects when the subscription is refused (or the client is not connected) */
  readonly ready: Promise<AuctionUpdateData>;
  private _state: SubscriptionState = 'subscribing';
  private _snapshot: AuctionUpdateData | undefined;
  private _lastSeq: number | undefined;
  private known: KnownStatus | undefined;
  /** status events already delivered, by type:seq:end_time */
  private seen = new Set<string>();
  /** status changes missed while disconnected, emitted once the replay reaches `seq` */
  private deferred: { seq: number; events: StatusMessage[] } | undefined;
  private settle: { resolve: (s: AuctionUpdateData) => void; reject: (e: Error) => void };
  private leave: (s: AuctionSubscription) => Promise<AuctionUpdateData>;
  /** the client's own listeners, which hear every event too, right after this subscription's */
  private relay: (type: ServerMessage['type'], e: AuctionEvent<never>) => void;

  constructor(auctionId: string, o: {
    leave: (s: AuctionSubscription) => Promise<AuctionUpdateData>; relay: (type: ServerMessage['type'], e: AuctionEvent<never>) => void;
  }) {
    super();
    this.auctionId = auctionId;
    this.leave = o.leave;
    this.relay = o.relay;
    let settle!: typeof this.settle;
    this.ready = new Promise<AuctionUpdateData>((resolve, reject) => { settle = { resolve, reject }; });
    this.ready.catch(() => {}); // a refusal nobody awaits is not an unhandled rejection
    this.settle = settle;
  }

  get state(): SubscriptionState {
    return this._state;
  }

  /** The latest snapshot (undefined before the first). */
  get snapshot(): AuctionUpdateData | undefined {
    return this._snapshot;
  }

  /** The highest seq delivered (or the seq of the first snapshot): what a resubscribe asks to replay after. */
  get lastSeq(): number | undefined {
    return this._lastSeq;
  }

  /** Stops watching; resolves with the snapshot the server sends back (`subscribed: false`). */
  unsubscribe(): Promise<AuctionUpdateData> {
    this._state = 'unsubscribed';
    return this.leave(this);
  }

  // ---- called by the client

  /** The socket dropped: the next subscribe reply is a resume. */
  suspend() {
    if (this._state === 'subscribed') this._state = 'resuming';
  }

  /** A subscribe reply: a fresh subscription starts at the snapshot's seq; a resumed one is replayed up to it. */
  subscribed(m: AuctionEvent<'auction_update'>, sinceSeq: number | undefined) {
    const snap = m.data;
    if (sinceSeq === undefined || this._lastSeq === undefined) this._lastSeq = Math.max(this._lastSeq ?? 0, snap.seq);
    const prev = this.known;
    if (prev && sinceSeq !== undefined) {
      const missed = missedStatusEvents(prev, snap, m.timestamp);
      if (missed.length > 0) this.deferred = { seq: snap.seq, events: missed };
    }
    if (this._state !== 'unsubscribed') this._state = 'subscribed';
    this.settle.resolve(snap);
    this.onSnapshot(m);
    this.flushDeferred();
  }

  /** The subscription was refused (or a resubscribe failed): it is over. */
  refused(err: AuctionError, afterStart: boolean) {
    this._state = 'unsubscribed';
    this.settle.reject(err);
    if (afterStart) this.emit('error', err);
  }

  get started() {
    return this._lastSeq !== undefined;
  }

  onBid(m: AuctionEvent<'bid_placed'>) {
    const seq = m.seq;
    if (this._lastSeq !== undefined && seq <= this._lastSeq) return; // already delivered
    this._lastSeq = seq;
    this.emit('bid', m);
    this.relay(m.type, m as AuctionEvent<never>);
    this.flushDeferred();
  }

  /**
   * A snapshot. An unrequested one is the server's refresh after its LISTEN connection dropped: the status
   * changes it shows are derived as for a reconnect. A resume's reply with a replay pending keeps the old
   * state until the replay is through.
   */
  onSnapshot(m: AuctionEvent<'auction_update'>) {
    const prev = this.known;
    this._snapshot = m.data;
    if (!this.deferred) this.known = { status: m.data.status, end_time: m.data.end_time };
    this.emit('snapshot', m);
    this.relay(m.type, m as AuctionEvent<never>);
    if (!m.request_id && prev && !this.deferred) {
      for (const e of missedStatusEvents(prev, m.data, m.timestamp)) this.derived(e);
    }
  }

  /** A status message on the auction's channel (or the user's own), emitted once; a live one first releases the derived ones. */
  onStatus(m: StatusEvent, live = true) {
    if (live) this.flushDeferred(true);
    const key = `${m.type}:${m.seq}:${m.data.end_time ?? ''}`;
    if (!remember(this.seen, key)) return;
    this.known = { status: m.data.status, end_time: m.data.end_time || this.known?.end_time || '' };
    if (this._snapshot) this._snapshot = { ...this._snapshot, status: m.data.status, end_time: this.known.end_time };
    this.emit('status', m);
    this.relay(m.type, m as AuctionEvent<never>);
  }

  onOutbid(m: AuctionEvent<'outbid'>) {
    this.emit('outbid', m);
    this.relay(m.type, m as AuctionEvent<never>);
  }

  private flushDeferred(force = false) {
    const d = this.deferred;
    if (!d || (!force && (this._lastSeq ?? 0) < d.seq)) return;
    this.deferred = undefined;
    for (const e of d.events) this.derived(e);
  }

  private derived(e: StatusMessage) {
    this.onStatus({ ...e, resumed: true } as StatusEvent, false);
  }
}
