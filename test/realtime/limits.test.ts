import t from 'tap';
import { freshDb } from '../helpers/db.ts';
import { connectClient, startInstance, type Client } from '../helpers/app.ts';
import { makeUser } from '../helpers/fixtures.ts';
import { until } from '../helpers/wait.ts';

const db = await freshDb(t);
const newAuction = (seller: Client) => seller.createAuction({ startingPrice: 1 });

function pause(c: Client) {
  (c.ws as unknown as { _socket: { pause(): void } })._socket.pause();
}
function resume(c: Client) {
  (c.ws as unknown as { _socket: { resume(): void } })._socket.resume();
}

t.test('a slow consumer is closed with 4008 and can resume by seq', async (t) => {
  const inst = await startInstance(t, db.url, { WS_MAX_BUFFERED_BYTES: '65536', REQUEST_TIMEOUT_MS: '60000' });
  const seller = await connectClient(t, inst, 'seller');
  const id = await newAuction(seller);
  const u = await makeUser(db.sql);
  // A long bid log, written in bulk with triggers off (superuser-only); place_bid on one hot row is slower.
  await db.sql.begin(async (tx) => {
    await tx`set local session_replication_role = replica`;
    await tx`insert into auction.bids (auction_id, user_id, amount, seq)
             select ${id}, ${u}, g, g from generate_series(1, 30000) g`;
    await tx`update auction.auctions set seq = 30000, current_price = 30000, leader_max = 30000, high_bidder_id = ${u}, status = 'active',
             last_bid_at = clock_timestamp() where id = ${id}`;
  });
  const slow = await connectClient(t, inst, "slow");
  pause(slow);
  slow.send({ type: 'subscribe', auction_id: id, data: { since_seq: 0 } });
  // the server buffers the replay for a reader that does not read, until the bound trips
  const cut = () => [...inst.app.connections].some((c) => c.userId === slow.userId && c.isClosing);
  await until(cut, { timeoutMs: 30_000, pollMs: 50, what: 'the server to close the slow socket' });
  t.ok(cut(), 'the server closed the slow socket');
  resume(slow);
  t.equal(await slow.closed(15_000), 4008);
  const again = await connectClient(t, inst, 'slow');
  const have = slow.bids(id).at(-1)?.seq ?? 0;
  const sub = await again.request({ type: 'subscribe', auction_id: id, data: { since_seq: 29_990 } });
  t.equal(sub.seq, 30000);
  await again.next((m) => m.type === 'bid_placed' && m.seq === 30000);
  t.same(again.bids(id).map((m) => m.seq), Array.from({ length: 10 }, (_, i) => 29_991 + i));
  t.ok(have < 30000, 'the slow socket was cut before the end of the replay');
});

t.test('a flood is answered with rate_limited, then the socket is closed with 4029', async (t) => {
  const inst = await startInstance(t, db.url, { WS_RATE_LIMIT_PER_SEC: '5', WS_RATE_BURST: '5' });
  const c = await connectClient(t, inst, 'flooder');
  for (let i = 0; i < 8; i++) c.send({ type: 'ping', request_id: `p${i}` });
  await c.next((m) => m.error?.code === 'rate_limited');
  t.equal(c.messages.filter((m) => m.type === 'pong').length <= 6, true);
  for (let i = 0; i < 20; i++) c.send({ type: 'ping' });
  t.equal(await c.closed(), 4029);
  const other = await connectClient(t, inst, 'polite');
  t.match(await other.request({ type: 'ping' }), { type: 'pong' }, 'others are unaffected');
});

t.test('at most WS_MAX_SUBSCRIPTIONS auctions per socket', async (t) => {
  const inst = await startInstance(t, db.url, { WS_MAX_SUBSCRIPTIONS: '2' });
  const c = await connectClient(t, inst, 'collector');
  const ids = [await newAuction(c), await newAuction(c), await newAuction(c)];
  t.match(await c.request({ type: 'subscribe', auction_id: ids[0] }), { type: 'auction_update' });
  t.match(await c.request({ type: 'subscribe', auction_id: ids[1] }), { type: 'auction_update' });
  t.match(await c.request({ type: 'subscribe', auction_id: ids[2] }), { type: 'error', error: { code: 'too_many_subscriptions' } });
  t.match(await c.request({ type: 'subscribe', auction_id: ids[0] }), { type: 'auction_update' }, 'resubscribing is not an extra one');
  await c.request({ type: 'unsubscribe', auction_id: ids[0] });
  t.match(await c.request({ type: 'subscribe', auction_id: ids[2] }), { type: 'auction_update' });
});

t.test('a peer that stops answering pings is dropped', async (t) => {
  const inst = await startInstance(t, db.url, { WS_HEARTBEAT_MS: '150' });
  const c = await connectClient(t, inst, 'ghost');
  const live = await connectClient(t, inst, 'alive');
  t.equal(inst.app.connections.size, 2);
  pause(c);
  await until(() => inst.app.connections.size === 1, 'the silent peer to be dropped');
  t.same([...inst.app.connections].map((s) => s.userId), [live.userId], 'the silent peer was terminated');
  t.match(await live.request({ type: 'ping' }), { type: 'pong' }, 'the answering one stays');
});

t.test('graceful shutdown answers in-flight bids, then closes sockets with 1001', async (t) => {
  const inst = await startInstance(t, db.url);
  const seller = await connectClient(t, inst, 'seller-s');
  const bidder = await connectClient(t, inst, 'bidder-s');
  const id = await newAuction(seller);
  await bidder.request({ type: 'subscribe', auction_id: id });
  // hold the row lock so the bid is still in flight when shutdown begins
  const holder = await db.sql.reserve();
  await holder`begin`;
  await holder`select 1 from auction.auctions where id = ${id} for update`;
  const reply = bidder.request({ type: 'place_bid', auction_id: id, data: { amount: 5 } });
  await until(() => [...inst.app.connections].some((c) => c.inFlight > 0), 'the bid to be in flight');
  const closing = inst.close();
  // shutdown has begun once new HTTP requests are refused; the bid still waits for the lock
  await until(async () => (await fetch(`${inst.http}/health`).then((r) => r.status, () => 0)) !== 200, 'shutdown to begin');
  t.equal(bidder.closeCode, undefined, 'not closed while the bid is in flight');
  await holder`commit`;
  holder.release();
  t.match(await reply, { type: 'bid_accepted' });
  t.equal(bidder.closeCode, undefined, 'answered before the socket closed');
  t.equal(await bidder.closed(), 1001);
  await closing;
  const [row] = await db.sql`select seq from auction.auctions where id = ${id}`;
  t.equal(row.seq, 1, 'the acknowledged bid is committed');
});

t.test('resume while bids keep arriving: no gap, no duplicate', async (t) => {
  // 110 bids back to back: a bid now takes about a millisecond, far over the default 50 messages/s
  const inst = await startInstance(t, db.url, { WS_RATE_LIMIT_PER_SEC: '1000', WS_RATE_BURST: '1000', WS_USER_RATE_LIMIT_PER_SEC: '1000', WS_USER_RATE_BURST: '1000' });
  const seller = await connectClient(t, inst, 'seller-r');
  const id = await newAuction(seller);
  const bidder = await connectClient(t, inst, 'bidder-r');
  let amount = 0;
  for (; amount < 50; ) await bidder.request({ type: 'place_bid', auction_id: id, data: { amount: ++amount } });
  const storm = (async () => {
    for (let i = 0; i < 60; i++) await bidder.request({ type: 'place_bid', auction_id: id, data: { amount: ++amount } });
  })();
  const readers = await Promise.all([10, 25, 40].map(async (since) => {
    const c = await connectClient(t, inst, `reader-${since}`);
    await c.request({ type: 'subscribe', auction_id: id, data: { since_seq: since } });
    return { c, since };
  }));
  await storm;
  for (const { c, since } of readers) {
    await c.next((m) => m.type === 'bid_placed' && m.seq === 110);
    t.same(c.bids(id).map((m) => m.seq), Array.from({ length: 110 - since }, (_, i) => since + 1 + i), `since ${since}`);
  }
});
