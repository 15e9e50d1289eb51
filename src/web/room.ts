// One auction room: what the server says about the auction, shown as it changes, with the bid boxes.
// The page derives no rule: the next minimum, buy-now and the winner come from the server's messages.
import {
  BidRejectedError, type AuctionClient, type AuctionEvent, type AuctionSnapshot, type AuctionSubscription, type BidPlacedData,
  type StatusEvent,
} from '../client/index.ts';
import { $, el, field, show, text } from './dom.ts';
import { clock, duration, money, person } from './format.ts';

export type RoomHost = {
  me: string;
  /** the auction changed: the list shows it too */
  changed(s: AuctionSnapshot): void;
  /** someone else took the lead from this user */
  outbid(auctionId: string, itemName: string, price: number): void;
  /** this user leads again: an outbid notice for the auction is out of date */
  leading(auctionId: string): void;
};

const OPEN = new Set(['pending', 'active']);

export class Room {
  readonly id: string;
  private client: AuctionClient;
  private host: RoomHost;
  private sub: AuctionSubscription;
  private snap: AuctionSnapshot | undefined;
  private feed = new Map<number, BidPlacedData>();
  private closed = false;
  /** the seq of this user's last accepted bid, while the line under the bid boxes says so */
  /** the seq the result line speaks of: a later bid by someone else makes it old news */
  private resultSeq: number | undefined;

  constructor(client: AuctionClient, id: string, host: RoomHost) {
    this.client = client;
    this.id = id;
    this.host = host;
    $('feed').replaceChildren();
    text('bid-result', '');
    text('room-title', 'Loading…');
    show('room', true);
    show('room-empty', false);
    this.sub = client.subscribe(id);
    this.sub.on('snapshot', (e) => this.onSnapshot(e.data));
    this.sub.on('bid', (e) => this.onBid(e));
    this.sub.on('status', (e) => this.onStatus(e));
    this.sub.on('outbid', (e) => this.host.outbid(id, this.snap?.item_name ?? 'an auction', e.data.current_price));
    this.sub.on('error', (err) => this.result(`This auction is no longer followed: ${err.message}`, false));
  }

  async open() {
    try {
      const snap = await this.sub.ready;
      if (this.closed) return;
      field('bid-amount').value = String(snap.min_next_bid);
      await this.history(snap.seq);
    } catch (err) {
      if (!this.closed) {
        text('room-title', 'No such auction');
        this.result(`Could not open the auction: ${(err as Error).message}`, false);
      }
    }
  }

  leave() {
    this.closed = true;
    show('room', false);
    show('room-empty', true);
    this.sub.unsubscribe().catch(() => {});
  }

  /** The last bids before the subscription, from the bid log. */
  private async history(seq: number) {
    if (seq === 0) return;
    const page = await this.client.listBids(this.id, { since_seq: Math.max(0, seq - 20), limit: 20 });
    if (!this.closed) for (const b of page.bids) this.addToFeed(b);
  }

  private onSnapshot(s: AuctionSnapshot) {
    if (this.snap && s.seq < this.snap.seq) return; // an older read: what is shown is newer
    this.snap = s;
    this.staleResult(s.seq, s.high_bidder_id);
    this.render();
  }

  private onBid(e: AuctionEvent<'bid_placed'>) {
    const d = e.data;
    this.addToFeed(d);
    const s = this.snap;
    if (!s || d.seq <= s.seq) return; // a replayed bid the snapshot already counts
    this.snap = {
      ...s, seq: d.seq, current_price: d.amount, high_bidder_id: d.user_id, high_bidder_name: d.user_name,
      reserve_met: d.reserve_met, min_next_bid: d.min_next_bid, buy_now_price: d.buy_now_price,
    };
    if (d.user_id === this.host.me) this.host.leading(this.id);
    this.staleResult(d.seq, d.user_id);
    this.render();
  }

  /** "Accepted" or "rejected" is old news once someone else bid after it (live, or in a snapshot after a resume). */
  private staleResult(seq: number, bidder: string | null) {
    if (this.resultSeq !== undefined && seq > this.resultSeq && bidder !== this.host.me) this.result('', true);
  }

  private onStatus(e: StatusEvent) {
    const s = this.snap;
    if (!s) return;
    const next: AuctionSnapshot = { ...s, status: e.data.status, end_time: e.data.end_time || s.end_time };
    if (e.type === 'auction_ended') {
      Object.assign(next, { winner_id: e.data.winner_id, winner_name: e.data.winner_name, buy_now_price: null, end_reason: e.data.reason ?? null });
      if (e.data.reserve_met != null) next.reserve_met = e.data.reserve_met;
    }
    if (e.type === 'auction_cancelled') Object.assign(next, { cancel_reason: e.data.reason, buy_now_price: null });
    this.snap = next;
    if (e.type === 'auction_extended') this.result(`Extended: now ends at ${clock(e.data.end_time)}`, true);
    if (e.type === 'auction_ended') {
      this.result(this.outcome(next), next.winner_id === this.host.me ? true : 'info');
      this.host.leading(this.id); // an outbid notice is moot once it ended
    }
    if (e.type === 'auction_cancelled') this.result(`Cancelled${e.data.reason ? `: ${e.data.reason}` : ''}`, false);
    this.render();
  }

  /** The ended auction in one sentence. */
  private outcome(s: AuctionSnapshot) {
    const me = this.host.me;
    if (s.winner_id === me) return `You won at ${money(s.current_price)}!`;
    if (s.winner_id) return `Sold to ${s.winner_name ?? 'the high bidder'} for ${money(s.current_price)}`;
    if (s.seq > 0 && !s.reserve_met) return 'Ended without a sale: the reserve was not met';
    return 'Ended without a sale: no bids';
  }

  async bid(amount: string | undefined, maxAmount: string | undefined) {
    this.result('Sending…', true);
    try {
      const r = await this.client.bid(this.id, amount ?? null, { maxAmount });
      if (this.closed) return;
      if (r.leading === false) this.result(`Accepted, but another bidder's maximum is higher: now ${money(r.current_price)}`, false);
      else {
        this.host.leading(this.id);
        this.result(maxAmount !== undefined ? `You lead at ${money(r.current_price)} (your maximum: ${money(r.max_amount)})` : `Bid accepted: ${money(r.amount)}`, true);
        this.resultSeq = r.seq ?? this.snap?.seq;
      }
      if (r.min_next_bid != null) field('bid-amount').value = String(r.min_next_bid);
    } catch (err) {
      if (this.closed) return;
      if (err instanceof BidRejectedError) {
        this.result(`Rejected: ${err.message}`, false);
        this.resultSeq = this.snap?.seq;
        if (err.minNextBid != null) field('bid-amount').value = String(err.minNextBid);
      } else {
        this.result(`Not placed: ${(err as Error).message}`, false);
      }
    }
  }

  async buyNow() {
    this.result('Buying…', true);
    try {
      const r = await this.client.buyNow(this.id);
      this.result(`Bought for ${money(r.amount)}`, true);
    } catch (err) {
      this.result(err instanceof BidRejectedError ? `Rejected: ${err.message}` : `Not bought: ${(err as Error).message}`, false);
      // the offer may be gone: show what is
      const snap = await this.client.getAuction(this.id).catch(() => undefined);
      if (snap && !this.closed) this.onSnapshot(snap);
    }
  }

  private addToFeed(b: BidPlacedData) {
    if (this.feed.has(b.seq)) return;
    this.feed.set(b.seq, b);
    const li = el('li', { 'data-seq': b.seq, value: b.seq, class: b.user_id === this.host.me ? 'mine' : '' },
      `${money(b.amount)} by ${person(b.user_id, b.user_name, this.host.me)} at ${clock(b.time)}`);
    if (b.kind === 'proxy') li.append(el('span', { class: 'tag', title: 'placed for a maximum bid' }, 'auto'));
    if (b.kind === 'buy_now') li.append(el('span', { class: 'tag' }, 'buy now'));
    // newest first, by seq
    const feed = $('feed');
    const after = [...feed.children].find((x) => Number((x as HTMLElement).dataset.seq) < b.seq);
    feed.insertBefore(li, after ?? null);
    show('feed-empty', false);
  }

  /** The line under the bid boxes: the outcome of this user's last action, or news about the auction. */
  private result(message: string, tone: boolean | 'info') {
    this.resultSeq = undefined; // set again by an accepted or rejected bid
    const r = $('bid-result');
    r.textContent = message;
    r.className = `result ${tone === 'info' ? 'info' : tone ? 'good' : 'bad'}`;
  }

  render() {
    const s = this.snap;
    if (!s || this.closed) return;
    const me = this.host.me;
    const open = OPEN.has(s.status);
    const mine = s.creator_id === me;
    text('room-title', s.item_name);
    text('room-description', s.item_description);
    text('seller', mine ? 'you' : s.creator_name);
    text('status', s.status);
    if (open) {
      text('price-label', s.seq === 0 ? 'Starting price' : 'Price');
      text('price', money(s.current_price));
      text('leader-label', 'High bidder');
      text('high-bidder', s.high_bidder_id ? person(s.high_bidder_id, s.high_bidder_name, me) : 'no bids yet');
      text('min-next', money(s.min_next_bid));
    } else {
      text('price-label', s.winner_id ? 'Sold for' : 'Final price');
      text('price', s.seq === 0 ? '–' : money(s.current_price));
      text('leader-label', 'Winner');
      text('high-bidder', s.status === 'cancelled' ? 'none (cancelled)' : s.winner_id ? person(s.winner_id, s.winner_name, me)
        : s.seq > 0 ? 'none (reserve not met)' : 'none (no bids)');
    }
    $('high-bidder').className = !open && s.winner_id ? 'winner' : '';
    show('min-next-row', open);
    show('reserve-row', s.has_reserve);
    const reserve = $('reserve');
    reserve.textContent = s.reserve_met ? 'met' : 'not met';
    reserve.className = s.reserve_met ? 'yes' : 'no';
    show('bidding', open && !mine);
    const box = field('bid-amount');
    if (document.activeElement !== box && !(Number(box.value) >= s.min_next_bid)) box.value = String(s.min_next_bid);
    const buy = $('buy-now');
    buy.hidden = !(open && !mine && s.buy_now_price != null);
    buy.textContent = `Buy now for ${money(s.buy_now_price)}`;
    if (this.feed.size === 0) show('feed-empty', true);
    this.host.changed(s);
    this.tick();
  }

  /** The countdown, from the server's clock as the client library estimates it. */
  tick() {
    const s = this.snap;
    if (!s || this.closed) return;
    const now = this.client.serverNow();
    if (s.status === 'pending' && Date.parse(s.start_time) > now) {
      text('countdown-label', 'Starts in');
      text('countdown', duration(Date.parse(s.start_time) - now));
    } else if (s.status === 'ended' || s.status === 'cancelled') {
      text('countdown-label', s.status === 'cancelled' ? 'Cancelled' : 'Ended');
      text('countdown', clock(s.end_time));
    } else {
      text('countdown-label', 'Ends in');
      text('countdown', duration(Date.parse(s.end_time) - now));
    }
  }
}
