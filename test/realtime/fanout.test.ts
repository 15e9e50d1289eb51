import t from 'tap';
import { freshDb } from '../helpers/db.ts';
import { connectClient, startInstance } from '../helpers/app.ts';

const db = await freshDb(t);
const a = await startInstance(t, db.url);
const b = await startInstance(t, db.url);

t.test('a bid placed on instance A reaches a subscriber on instance B', async (t) => {
  const seller = await connectClient(t, a, 'seller');
  const bidder = await connectClient(t, a, 'bidder');
  const watcher = await connectClient(t, b, 'watcher');
  const id = await seller.createAuction({ startingPrice: 1 });
  await watcher.request({ type: 'subscribe', auction_id: id });
  const r = await bidder.request({ type: 'place_bid', auction_id: id, data: { amount: 3 } });
  t.equal(r.type, 'bid_accepted');
  const seen = await watcher.next((m) => m.type === 'bid_placed' && m.seq === 1);
  t.match(seen, { auction_id: id, data: { bid_id: r.data.bid_id, user_id: bidder.userId, amount: 3 } });
});

t.test('killing the LISTEN backend of B loses no event: B catches up by seq, without duplicates', async (t) => {
  const seller = await connectClient(t, a, 'seller2');
  const bidder = await connectClient(t, a, 'bidder2');
  const watcher = await connectClient(t, b, 'watcher2');
  const id = await seller.createAuction({ startingPrice: 1 });
  await watcher.request({ type: 'subscribe', auction_id: id });

  let amount = 0;
  const bidSome = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const r = await bidder.request({ type: 'place_bid', auction_id: id, data: { amount: ++amount } });
      t.equal(r.type, 'bid_accepted');
    }
  };
  await bidSome(5);
  const pid = b.app.listenHub.backendPid;
  t.ok(pid, 'B has a LISTEN backend');
  // bids keep coming while B's LISTEN connection is gone
  const [killed] = await Promise.all([
    db.sql`select pg_terminate_backend(${pid!}) as ok`,
    bidSome(10),
  ]);
  t.equal(killed[0].ok, true);
  await bidSome(5);
  await watcher.next((m) => m.type === 'bid_placed' && m.seq === 20, 10_000);
  t.not(b.app.listenHub.backendPid, pid, 'B reconnected on a new backend');
  t.same(watcher.bids(id).map((m) => m.seq), Array.from({ length: 20 }, (_, i) => i + 1), 'every seq once, in order');
  t.equal(b.app.listenHub.ready, true);
});

t.test('status changes reach subscribers on both instances; the seller hears the end when not subscribed', async (t) => {
  const seller = await connectClient(t, b, 'seller3');
  const bidder = await connectClient(t, a, 'bidder3');
  const onA = await connectClient(t, a, 'watcher3a');
  const onB = await connectClient(t, b, 'watcher3b');
  // it starts (by its start job) after both are subscribed, so both hear every change
  const id = await seller.createAuction({ startingPrice: 1, startsIn: 1 });
  await onA.request({ type: 'subscribe', auction_id: id });
  await onB.request({ type: 'subscribe', auction_id: id });
  for (const c of [onA, onB]) await c.next((m) => m.type === 'auction_started' && m.auction_id === id, 10_000);
  await bidder.request({ type: 'place_bid', auction_id: id, data: { amount: 7 } });
  await db.sql`select auction.extend_auction(${id}, clock_timestamp() + interval '2 hours')`;
  await db.sql`select auction.end_auction(${id})`; // an operator in psql
  for (const c of [onA, onB]) {
    await c.next((m) => m.type === 'auction_ended');
    const types = c.messages.filter((m) => m.auction_id === id).map((m) => m.type).filter((x) => x !== 'auction_update');
    t.same(types, ['auction_started', 'bid_placed', 'auction_extended', 'auction_ended']);
    t.match(c.messages.find((m) => m.type === 'auction_ended'), { data: { winner_id: bidder.userId, final_price: 7 } });
  }
  const s = await seller.next((m) => m.type === 'auction_ended' && m.auction_id === id);
  t.match(s, { data: { winner_id: bidder.userId } });
  const w = await bidder.next((m) => m.type === 'auction_ended' && m.auction_id === id);
  t.match(w, { data: { final_price: 7 } });
});

t.test('subscribers joining a new feed while others leave it all keep hearing bids', async (t) => {
  const seller = await connectClient(t, b, 'seller4');
  const bidder = await connectClient(t, a, 'bidder4');
  for (let round = 0; round < 5; round++) {
    const id = await seller.createAuction({ startingPrice: 1 });
    const clients = await Promise.all(Array.from({ length: 24 }, (_, i) => connectClient(t, b, `churn-${round}-${i}`)));
    // everyone subscribes at once to a feed b does not have yet; every third leaves as soon as it is in
    const stayers = await Promise.all(clients.map(async (c, i) => {
      const r = await c.request({ type: 'subscribe', auction_id: id });
      t.equal(r.type, 'auction_update');
      if (i % 3 === 0) {
        c.ws.terminate();
        return undefined;
      }
      return c;
    }));
    await bidder.request({ type: 'place_bid', auction_id: id, data: { amount: 2 } });
    for (const c of stayers.filter((x) => x !== undefined)) {
      await c.next((m) => m.type === 'bid_placed' && m.auction_id === id, 3000);
    }
  }
});
