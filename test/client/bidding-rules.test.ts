// Issue 7's bidding rules through the client library: proxy bids, outbid alerts, buy now, reserve, soft close.
import t from 'tap';
import { freshDb } from '../helpers/db.ts';
import { startInstance } from '../helpers/app.ts';
import type { ClientEvents } from '../../src/client/index.ts';
import { clientFor } from './helpers.ts';
import { auctionInput } from '../helpers/fixtures.ts';
import { until } from '../helpers/wait.ts';

const db = await freshDb(t);
const inst = await startInstance(t, db.url);

t.test('a proxy maximum answers a lower bid at once: leading false, the answer is a proxy bid_placed', async (t) => {
  const seller = await clientFor(t, inst.ws, 'seller');
  const alice = await clientFor(t, inst.ws, 'alice');
  const bob = await clientFor(t, inst.ws, 'bob');
  const watcher = await clientFor(t, inst.ws, 'watcher');
  const { auction_id: id } = await seller.createAuction(auctionInput({ startingPrice: 10, minIncrement: 1 }));
  const seen: ClientEvents['bid_placed'][] = [];
  watcher.on('bid_placed', (e) => seen.push(e));
  await watcher.subscribe(id).ready;

  const a = await alice.bid(id, null, { maxAmount: 50 });
  t.match(a, { leading: true, max_amount: 50, amount: 10, duplicate: false });
  const b = await bob.bid(id, 20);
  t.equal(b.leading, false, "alice's maximum outbid bob at once");
  t.ok(b.current_price! > 20 && b.current_price! <= 50, `price ${b.current_price}`);
  await until(() => seen.at(-1)?.data.user_id === alice.userId && seen.length >= 3, { timeoutMs: 5000, what: 'the proxy answer' });
  t.same(seen.map((e) => e.seq), seen.map((_, i) => i + 1));
  t.match(seen.at(-1)!.data, { proxy: true, user_id: alice.userId, amount: b.current_price });
  t.notOk(seen.find((e) => e.data.user_id === bob.userId)!.data.proxy);
});

t.test('outbid reaches the previous high bidder even when not subscribed', async (t) => {
  const seller = await clientFor(t, inst.ws, 'seller2');
  const bob = await clientFor(t, inst.ws, 'bob2');
  const carol = await clientFor(t, inst.ws, 'carol2');
  const { auction_id: id } = await seller.createAuction(auctionInput({ startingPrice: 10, minIncrement: 1 }));
  const outbids: ClientEvents['outbid'][] = [];
  bob.on('outbid', (e) => outbids.push(e));
  await bob.bid(id, 10);
  const c = await carol.bid(id, 15);
  await until(() => outbids.length === 1, { timeoutMs: 5000, what: 'the outbid alert' });
  t.match(outbids[0], { auction_id: id, seq: c.seq, data: { current_price: 15, min_next_bid: 16, seq: c.seq } });
  t.same(bob.subscriptions, []);
});

t.test('buy now: bought at the buy-now price, the auction ends, and the price is no longer offered', async (t) => {
  const seller = await clientFor(t, inst.ws, 'seller3');
  const buyer = await clientFor(t, inst.ws, 'buyer3');
  const watcher = await clientFor(t, inst.ws, 'watcher3');
  const snap = await seller.createAuction({ ...auctionInput({ startingPrice: 10, minIncrement: 1 }), buy_now_price: 100 });
  const id = snap.auction_id;
  t.equal(snap.buy_now_price, 100);
  const ended = new Promise<ClientEvents['auction_ended']>((resolve) => watcher.once('auction_ended', resolve));
  await watcher.subscribe(id).ready;
  const r = await buyer.buyNow(id);
  t.match(r, { bought: true, amount: 100 });
  t.match(await ended, { auction_id: id, data: { status: 'ended', winner_id: buyer.userId, final_price: 100 } });
  t.match(await watcher.getAuction(id), { status: 'ended', buy_now_price: null });
  await t.rejects(buyer.buyNow(id), { name: 'AuctionError', code: 'ended' });

  // without a reserve, the first bid withdraws the offer
  const next = await seller.createAuction({ ...auctionInput({ startingPrice: 10, minIncrement: 1 }), buy_now_price: 100 });
  await watcher.bid(next.auction_id, 10);
  await t.rejects(buyer.buyNow(next.auction_id), { code: 'buy_now_unavailable' });
  t.equal((await buyer.getAuction(next.auction_id)).buy_now_price, null);
});

t.test('snapshots carry the reserve, buy-now, soft-close and increment fields; bids say when the reserve is met', async (t) => {
  const seller = await clientFor(t, inst.ws, 'seller4');
  const bob = await clientFor(t, inst.ws, 'bob4');
  const snap = await seller.createAuction({ ...auctionInput({ startingPrice: 10, minIncrement: 1 }), reserve_price: 30, soft_close_seconds: 60 });
  t.match(snap, { has_reserve: true, reserve_met: false, buy_now_price: null, soft_close_seconds: 60, increments: { fixed: 1 }, min_next_bid: 10 });
  t.equal((snap as Record<string, unknown>).reserve_price, undefined, 'the reserve itself stays secret');
  const below = await bob.bid(id(snap), 20);
  t.equal(below.reserve_met, false);
  const above = await bob.bid(id(snap), 35);
  t.equal(above.reserve_met, true);
  t.match(await bob.getAuction(id(snap)), { reserve_met: true, current_price: 35 });
});

t.test('soft close: a bid in the last seconds extends the end; watchers get auction_extended', async (t) => {
  const seller = await clientFor(t, inst.ws, 'seller5');
  const bob = await clientFor(t, inst.ws, 'bob5');
  const watcher = await clientFor(t, inst.ws, 'watcher5');
  const snap = await seller.createAuction({ ...auctionInput({ endsIn: 5, startingPrice: 10, minIncrement: 1 }), soft_close_seconds: 60 });
  const extended = new Promise<ClientEvents['auction_extended']>((resolve) => watcher.once('auction_extended', resolve));
  await watcher.subscribe(snap.auction_id).ready;
  const r = await bob.bid(snap.auction_id, 10);
  const e = await extended;
  t.equal(e.data.reason, 'soft_close');
  t.ok(Date.parse(e.data.end_time) > Date.parse(snap.end_time), 'later than before');
  t.ok(Date.parse(e.data.end_time) >= Date.parse(r.time!) + 59_000, 'about a minute after the bid');
});

function id(s: { auction_id: string }) {
  return s.auction_id;
}
