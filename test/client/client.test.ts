import t from 'tap';
import { freshDb } from '../helpers/db.ts';
import { startInstance } from '../helpers/app.ts';
import { AuctionClient, AuctionError, BidRejectedError, RequestFailedError, type ClientEvents } from '../../src/client/index.ts';
import { clientFor, tappedSocket } from './helpers.ts';
import { auctionInput } from '../helpers/fixtures.ts';
import { until } from '../helpers/wait.ts';

const db = await freshDb(t);
const inst = await startInstance(t, db.url);

t.test('subscribe to many auctions on one socket; bids resolve with bid_accepted; every watcher sees them', async (t) => {
  const seller = await clientFor(t, inst.ws, 'seller');
  const alice = await clientFor(t, inst.ws, 'alice');
  const bob = await clientFor(t, inst.ws, 'bob');
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push((await seller.createAuction(auctionInput())).auction_id);

  const seen: ClientEvents['bid_placed'][] = [];
  const off = alice.on('bid_placed', (e) => seen.push(e));
  const snaps = await Promise.all(ids.map((id) => alice.subscribe(id).ready));
  t.same(snaps.map((s) => [s.auction_id, s.subscribed, s.seq, s.min_next_bid]), ids.map((id) => [id, true, 0, 10]));
  t.same(alice.subscriptions, ids);

  const accepted = await Promise.all(ids.map((id, i) => bob.bid(id, 10 + i)));
  t.same(accepted.map((a) => [a.seq, a.amount, a.current_price, a.duplicate]), ids.map((_, i) => [1, 10 + i, 10 + i, false]));
  await until(() => seen.length === 5, { timeoutMs: 5000, what: 'five bid_placed' });
  t.same(seen.map((e) => [e.auction_id, e.seq, e.data.user_id, e.data.amount]).sort(), ids.map((id, i) => [id, 1, bob.userId, 10 + i]).sort());
  t.equal(alice.lastSeq(ids[0]), 1);

  off();
  await bob.bid(ids[0], 20);
  const snap = await alice.getAuction(ids[0]);
  t.equal(snap.current_price, 20);
  t.equal(seen.length, 5, 'no callback after off()');

  const unsub = await alice.unsubscribe(ids[4]);
  t.equal(unsub.subscribed, false);
  t.same(alice.subscriptions, ids.slice(0, 4));

  const list = await alice.listAuctions({ limit: 3 });
  t.equal(list.auctions.length, 3);
  t.ok(list.next_cursor);
});

t.test('a subscription: listeners on before any event, its own typed events once each, the same handle, unsubscribe()', async (t) => {
  const seller = await clientFor(t, inst.ws, 'seller-h');
  const bob = await clientFor(t, inst.ws, 'bob-h');
  const watcher = await clientFor(t, inst.ws, 'watcher-h');
  const { auction_id: id } = await seller.createAuction(auctionInput());
  await bob.bid(id, 10); // the first bid starts it: this subscription hears no auction_started
  const sub = watcher.subscribe(id);
  const heard: string[] = [];
  sub.on('bid', (e) => heard.push(`bid ${e.seq} ${e.data.amount}`));
  sub.on('status', (e) => heard.push(`${e.type} ${e.data.status}`));
  sub.on('snapshot', (e) => heard.push(`snapshot ${e.data.seq}`));
  t.equal(sub.state, 'subscribing');
  t.equal(watcher.subscribe(id), sub, 'subscribing again gives the same subscription');
  const snap = await sub.ready;
  t.match(snap, { auction_id: id, subscribed: true, seq: 1, current_price: 10 });
  t.equal(sub.state, 'subscribed');
  t.equal(watcher.subscription(id), sub);
  await bob.bid(id, 11);
  await db.sql`select auction.end_auction(${id})`;
  await until(() => heard.includes('auction_ended ended'), 'the end');
  t.same(heard, ['snapshot 1', 'bid 2 11', 'auction_ended ended']);
  t.equal(sub.lastSeq, 2);
  t.match(sub.snapshot, { status: 'ended' }, 'the snapshot follows the status');
  const gone = await sub.unsubscribe();
  t.equal(gone.subscribed, false);
  t.equal(sub.state, 'unsubscribed');
  t.same(watcher.subscriptions, []);
});

t.test('rejections are typed: BidRejectedError with reason, min_next_bid and current_price', async (t) => {
  const seller = await clientFor(t, inst.ws, 'seller2');
  const bob = await clientFor(t, inst.ws, 'bob2');
  const { auction_id: id } = await seller.createAuction(auctionInput({ minIncrement: 0.5 }));
  await bob.bid(id, 12);
  const err = await bob.bid(id, 12.25).catch((e) => e);
  t.ok(err instanceof BidRejectedError);
  t.ok(err instanceof AuctionError);
  t.match(err, { reason: 'too_low', code: 'too_low', minNextBid: 12.5, currentPrice: 12, amount: 12.25 });
  t.match(err.message, /at least 12.50/);
  const own = await seller.bid(id, 100).catch((e) => e);
  t.match(own, { name: 'BidRejectedError', reason: 'own_auction' });
  const missing = await bob.subscribe('00000000-0000-4000-8000-000000000000').ready.catch((e) => e);
  t.ok(missing instanceof AuctionError && !(missing instanceof BidRejectedError));
  t.equal(missing.code, 'auction_not_found');
  t.same(bob.subscriptions, [], 'a failed subscribe is not kept');
  const bad = await bob.bid(id, 1.001).catch((e) => e);
  t.equal(bad.code, 'invalid_message', 'validation errors reject with their error code');
});

t.test('a requestId makes a bid idempotent: the retry returns the first outcome', async (t) => {
  const seller = await clientFor(t, inst.ws, 'seller3');
  const bob = await clientFor(t, inst.ws, 'bob3');
  const { auction_id: id } = await seller.createAuction(auctionInput());
  const first = await bob.bid(id, 15, { requestId: 'bid-once' });
  const again = await bob.bid(id, 15, { requestId: 'bid-once' });
  t.equal(first.duplicate, false);
  t.equal(again.duplicate, true);
  t.equal(again.seq, first.seq);
  t.equal((await bob.getAuction(id)).seq, 1);
});

t.test('a request without a reply rejects after requestTimeoutMs with code timeout', async (t) => {
  const c = await clientFor(t, inst.ws, 'carol', {
    requestTimeoutMs: 300, WebSocket: tappedSocket({ send: (f) => f.type !== 'get_auction' }) });
  const err = await c.getAuction('00000000-0000-4000-8000-000000000000').catch((e) => e);
  t.ok(err instanceof RequestFailedError);
  t.equal(err.code, 'timeout');
  t.equal(await c.ping().then((ms) => typeof ms), 'number', 'the socket still works');
});

t.test('server clock offset from message timestamps', async (t) => {
  // a server whose clock runs 60 s ahead of this one
  const c = await clientFor(t, inst.ws, 'dave', { WebSocket: tappedSocket({ receive: (m) => ({ ...m, timestamp: m.timestamp + 60_000 }) }) });
  await c.ping();
  await c.ping();
  t.ok(Math.abs(c.serverOffsetMs - 60_000) < 500, `offset ${c.serverOffsetMs}`);
  t.ok(Math.abs(c.serverNow() - (Date.now() + 60_000)) < 500);
  const plain = await clientFor(t, inst.ws, 'dave2');
  await plain.ping();
  t.ok(Math.abs(plain.serverOffsetMs) < 500, `offset ${plain.serverOffsetMs}`);
});

t.test('requests before connect() reject; close() rejects what is unanswered and does not reconnect', async (t) => {
  const c = await clientFor(t, inst.ws, 'erin', { WebSocket: tappedSocket({ send: (f) => f.type !== 'ping' }) });
  const ping = c.ping().catch((e) => e);
  const events: unknown[] = [];
  c.on('disconnected', (e) => events.push(e));
  c.close();
  t.match(await ping, { code: 'connection_closed' });
  t.equal(c.state, 'closed');
  t.match(events, [{ willReconnect: false }]);
  await t.rejects(c.getAuction('00000000-0000-4000-8000-000000000000'), { code: 'connection_closed' });
  const idle = new AuctionClient({ url: inst.ws });
  await t.rejects(idle.subscribe('00000000-0000-4000-8000-000000000000').ready, { code: 'connection_closed', message: /connect\(\) first/ });
  t.same(idle.subscriptions, [], 'not kept for a later connect');
});
