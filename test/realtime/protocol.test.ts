import t from 'tap';
import { freshDb } from '../helpers/db.ts';
import { connectClient, startInstance } from '../helpers/app.ts';
import { auctionInput, inSeconds } from '../helpers/fixtures.ts';

const db = await freshDb(t);
const inst = await startInstance(t, db.url);

t.test('a seller creates an auction; bidders subscribe, bid, and everyone sees every accepted bid', async (t) => {
  const seller = await connectClient(t, inst, 'seller');
  const alice = await connectClient(t, inst, 'alice');
  const bob = await connectClient(t, inst, 'bob');

  const created = await seller.request({ type: 'create_auction', data: auctionInput({
    item: { name: 'Teapot', description: 'blue' }, startingPrice: 10, minIncrement: '0.50' }) });
  t.equal(created.type, 'auction_created');
  const id = created.auction_id!;
  t.match(created.data, { status: 'pending', starting_price: 10, current_price: 10, min_increment: 0.5, seq: 0,
    item_name: 'Teapot', item_description: 'blue', creator_id: seller.userId, creator_name: 'seller', high_bidder_name: null, winner_name: null });

  for (const c of [seller, alice, bob]) {
    const sub = await c.request({ type: 'subscribe', auction_id: id });
    t.match(sub, { type: 'auction_update', auction_id: id, seq: 0, data: { subscribed: true, current_price: 10, min_next_bid: 10 } });
  }

  const low = await alice.request({ type: 'place_bid', auction_id: id, data: { amount: 9.5 } });
  t.match(low, { type: 'bid_rejected', error: { code: 'too_low' }, data: { reason: 'too_low', min_next_bid: 10 } });

  const ok = await alice.request({ type: 'place_bid', auction_id: id, data: { amount: 10 } });
  t.match(ok, { type: 'bid_accepted', seq: 1, data: { amount: 10, seq: 1, min_next_bid: 10.5, duplicate: false } });
  const ok2 = await bob.request({ type: 'place_bid', auction_id: id, data: { amount: '601.50' } });
  t.match(ok2, { type: 'bid_accepted', seq: 2, data: { amount: 601.5 } });

  for (const c of [seller, alice, bob]) {
    await c.next((m) => m.type === 'bid_placed' && m.seq === 2);
    t.same(c.bids(id).map((m) => [m.seq, m.data.amount, m.data.user_id, m.data.user_name, m.data.min_next_bid, m.data.buy_now_price]),
      [[1, 10, alice.userId, 'alice', 10.5, null], [2, 601.5, bob.userId, 'bob', 602, null]]);
  }

  const own = await seller.request({ type: 'place_bid', auction_id: id, data: { amount: 700 } });
  t.match(own, { type: 'bid_rejected', data: { reason: 'own_auction' } });

  const got = await bob.request({ type: 'get_auction', auction_id: id });
  t.match(got, { type: 'auction_update', data: { current_price: 601.5, high_bidder_id: bob.userId, high_bidder_name: 'bob', status: 'active', seq: 2 } });

  const list = await bob.request({ type: 'list_auctions', data: { limit: 10 } });
  t.match(list, { type: 'auction_list' });
  t.ok(list.data.auctions.some((a: { auction_id: string }) => a.auction_id === id));

  const unsub = await alice.request({ type: 'unsubscribe', auction_id: id });
  t.match(unsub, { type: 'auction_update', data: { subscribed: false } });
  await bob.request({ type: 'place_bid', auction_id: id, data: { amount: 700 } });
  await seller.next((m) => m.type === 'bid_placed' && m.seq === 3);
  await alice.settled(); // the broadcast that reached the seller would have been written to alice before this pong
  t.equal(alice.bids(id).length, 2, 'an unsubscribed socket hears no more bids');

  t.match(await alice.request({ type: 'ping' }), { type: 'pong' });
});

t.test('each bid event says what a watcher needs next: the least next bid, and whether buy-now is still offered', async (t) => {
  const seller = await connectClient(t, inst, 'facts-seller');
  const bidder = await connectClient(t, inst, 'facts-bidder');
  const watcher = await connectClient(t, inst, 'facts-watcher');
  // eBay's steps, a reserve of 30 and a buy-now price of 100: buy-now stays offered until bidding meets the reserve
  const id = await seller.createAuction({ startingPrice: 10, minIncrement: null, reservePrice: 30, buyNowPrice: 100 });
  t.match((await watcher.request({ type: 'subscribe', auction_id: id })).data, { min_next_bid: 10, buy_now_price: 100 });
  for (const amount of [10, 24.5, 30]) await bidder.request({ type: 'place_bid', auction_id: id, data: { amount } });
  await watcher.next((m) => m.type === 'bid_placed' && m.seq === 3);
  const live = watcher.bids(id).map((m) => [m.data.amount, m.data.min_next_bid, m.data.buy_now_price]);
  t.same(live, [[10, 10.5, 100], [24.5, 25, 100], [30, 31, null]], 'steps of 0.50 under 25, then 1; offered until the reserve is met');
  const late = await connectClient(t, inst, 'facts-late');
  await late.request({ type: 'subscribe', auction_id: id, data: { since_seq: 0 } });
  await late.next((m) => m.type === 'bid_placed' && m.seq === 3);
  t.same(late.bids(id).map((m) => [m.data.amount, m.data.min_next_bid, m.data.buy_now_price]), live, 'a replay from the bid log says the same');
  const listed = await late.request({ type: 'list_bids', auction_id: id, data: { since_seq: 1, limit: 5 } });
  t.match(listed, { type: 'bid_list', auction_id: id, data: { next_since_seq: null } });
  t.same(listed.data.bids.map((b: { seq: number; user_name: string }) => [b.seq, b.user_name]), [[2, 'facts-bidder'], [3, 'facts-bidder']]);
  t.match((await late.request({ type: 'get_auction', auction_id: id })).data, { min_next_bid: 31, buy_now_price: null }, 'and the snapshot agrees');
});

t.test('create_auction without start_time: the auction starts now', async (t) => {
  const seller = await connectClient(t, inst, 'seller-now');
  const bidder = await connectClient(t, inst, 'bidder-now');
  const before = Date.now();
  const created = await seller.request({ type: 'create_auction', data: { item: { name: 'Clock' }, end_time: inSeconds(3600), starting_price: 5 } });
  t.equal(created.type, 'auction_created');
  const start = Date.parse((created.data as { start_time: string }).start_time);
  t.ok(start >= before - 1000 && start <= Date.now() + 1000, 'start_time is now');
  t.match(await bidder.request({ type: 'place_bid', auction_id: created.auction_id, data: { amount: 5 } }), { type: 'bid_accepted', seq: 1 });
});

t.test('a retried place_bid with the same request_id bids once', async (t) => {
  const seller = await connectClient(t, inst, 'seller2');
  const carol = await connectClient(t, inst, 'carol');
  const id = await seller.createAuction({ item: { name: 'Vase' }, startingPrice: 5 });
  const first = await carol.request({ type: 'place_bid', auction_id: id, request_id: 'r-1', data: { amount: 5 } });
  const again = await carol.request({ type: 'place_bid', auction_id: id, request_id: 'r-1', data: { amount: 5 } });
  t.match(first, { type: 'bid_accepted', data: { duplicate: false } });
  t.match(again, { type: 'bid_accepted', data: { duplicate: true, bid_id: first.data.bid_id } });
});

t.test('resume: subscribe with since_seq replays the missed bids in order, then continues live', async (t) => {
  const seller = await connectClient(t, inst, 'seller3');
  const dan = await connectClient(t, inst, 'dan');
  const id = await seller.createAuction({ item: { name: 'Clock' }, startingPrice: 1 });
  for (let i = 1; i <= 5; i++) await dan.request({ type: 'place_bid', auction_id: id, data: { amount: i } });
  const late = await connectClient(t, inst, 'erin');
  const sub = await late.request({ type: 'subscribe', auction_id: id, data: { since_seq: 2 } });
  t.equal(sub.seq, 5);
  await late.next((m) => m.type === 'bid_placed' && m.seq === 5);
  await dan.request({ type: 'place_bid', auction_id: id, data: { amount: 6 } });
  await late.next((m) => m.type === 'bid_placed' && m.seq === 6);
  t.same(late.bids(id).map((m) => m.seq), [3, 4, 5, 6]);
  t.ok(late.bids(id).every((m) => m.data.user_name === 'dan'), 'replayed and live bids name the bidder alike');
});

t.test('bad input gets a typed error and the socket keeps working', async (t) => {
  const c = await connectClient(t, inst, 'fuzzer');
  c.send('not json');
  t.match(await c.next((m) => m.type === 'error' && m.error?.code === 'invalid_json'), { error: { code: 'invalid_json' } });
  t.match(await c.request({ type: 'teleport' }), { type: 'error', error: { code: 'unknown_type' } });
  t.match(await c.request({ type: 'place_bid', auction_id: 'nope', data: { amount: 1 } }), { error: { code: 'invalid_message' } });
  for (const amount of [-1, 0, 1.234, 1e21, 'abc', null]) {
    t.match(await c.request({ type: 'place_bid', auction_id: '00000000-0000-4000-8000-000000000000', data: { amount } }),
      { type: 'error', error: { code: 'invalid_message' } }, `amount ${amount}`);
  }
  t.match(await c.request({ type: 'place_bid', auction_id: '00000000-0000-4000-8000-000000000000', data: { amount: 5 } }),
    { type: 'bid_rejected', data: { reason: 'auction_not_found' } });
  t.match(await c.request({ type: 'subscribe', auction_id: '00000000-0000-4000-8000-000000000000' }), { type: 'error', error: { code: 'auction_not_found' } });
  t.match(await c.request({ type: 'create_auction', data: auctionInput({ startsIn: 10, endsIn: 5 }) }),
    { type: 'error', error: { code: 'invalid_argument' } });
  t.match(await c.request({ type: 'list_auctions', data: { cursor: 'garbage' } }), { type: 'error', error: { code: 'invalid_argument' } });
  c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
  t.match(await c.next((m) => m.error?.code === 'binary_not_supported'), { type: 'error' });
  t.match(await c.request({ type: 'ping' }), { type: 'pong' }, 'still working');
});

t.test('an oversize frame closes the socket with 1009; the server keeps serving others', async (t) => {
  const c = await connectClient(t, inst, 'big');
  c.send(JSON.stringify({ type: 'ping', data: 'x'.repeat(10_000) }));
  t.equal(await c.closed(), 1009);
  const d = await connectClient(t, inst, 'small');
  t.match(await d.request({ type: 'ping' }), { type: 'pong' });
});

t.test('bids at the largest amount are accepted or refused with price_limit, never an error', async (t) => {
  const seller = await connectClient(t, inst, 'seller');
  const alice = await connectClient(t, inst, 'alice');
  const bob = await connectClient(t, inst, 'bob');
  const top = '9999999999.99';
  const create = async (startingPrice: string) =>
    (await seller.request({ type: 'create_auction', data: auctionInput({ startingPrice, minIncrement: '100' }) })).auction_id!;
  const bid = (c: typeof alice, id: string, amount: string) => c.request({ type: 'place_bid', auction_id: id, data: { amount } });

  const open = await create('10');
  t.match(await bid(alice, open, top), { type: 'bid_accepted', data: { amount: 9999999999.99, min_next_bid: 9999999999.99 } });
  t.match(await bid(bob, open, top), { type: 'bid_rejected', error: { code: 'price_limit' }, data: { reason: 'price_limit' } });

  const priciest = await create(top);
  t.match(await bid(alice, priciest, top), { type: 'bid_accepted', data: { amount: 9999999999.99 } },
    'an auction starting at the largest amount takes a bid');
  t.match(await bid(bob, priciest, top), { type: 'bid_rejected', data: { reason: 'price_limit' } });

  const near = await create('10');
  t.match(await bid(alice, near, '9999999000'), { type: 'bid_accepted', data: { min_next_bid: 9999999100 } });
  t.match(await bid(bob, near, '9999999950'), { type: 'bid_accepted', data: { amount: 9999999950, min_next_bid: 9999999999.99 } });
  t.match(await bid(alice, near, top), { type: 'bid_accepted' });
});

t.test("create_auction of another user's item is refused with not_item_owner; the owner and ownerless items still work", async (t) => {
  const owner = await connectClient(t, inst, 'owner');
  const other = await connectClient(t, inst, 'other');
  const first = await owner.request({ type: 'create_auction', data: auctionInput({ item: { name: 'Clock' } }) });
  const itemId = first.data.item_id as string;
  await db.sql`select auction.cancel_auction(${first.auction_id!}, 'to auction it again')`;
  t.match(await other.request({ type: 'create_auction', data: auctionInput({ itemId }) }),
    { type: 'error', error: { code: 'not_item_owner' } });
  t.match(await owner.request({ type: 'create_auction', data: auctionInput({ itemId }) }),
    { type: 'auction_created', data: { item_id: itemId, creator_id: owner.userId } }, 'the owner still may');

  const [seeded] = await db.sql`select auction.create_item('seeded clock') as id`;
  t.match(await other.request({ type: 'create_auction', data: auctionInput({ itemId: seeded.id }) }),
    { type: 'auction_created', data: { creator_id: other.userId } }, 'an item without an owner: anyone');
});
