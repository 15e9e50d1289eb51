import t from 'tap';
import { randomUUID } from 'node:crypto';
import { freshDb } from '../helpers/db.ts';
import { bid, makeAuction, makeUser } from '../helpers/fixtures.ts';

const { sql } = await freshDb(t);

t.test('the first bid must reach the starting price, later ones the price plus the increment', async (t) => {
  const a = await makeAuction(sql, { startingPrice: '10.00', minIncrement: '1.00' });
  const alice = await makeUser(sql, 'alice');
  const bob = await makeUser(sql, 'bob');

  const low = await bid(sql, a.id, alice, '9.99');
  t.match(low, { accepted: false, reason: 'too_low', min_amount: '10.00', current_price: '10.00' });

  const first = await bid(sql, a.id, alice, '10.00');
  t.match(first, { accepted: true, reason: null, seq: 1, amount: '10.00', current_price: '10.00', min_amount: '11.00' });
  t.ok(first.bid_id);

  t.match(await bid(sql, a.id, bob, '10.99'), { accepted: false, reason: 'too_low', min_amount: '11.00' });
  t.match(await bid(sql, a.id, bob, '11.00'), { accepted: true, seq: 2 });

  const [row] = await sql`select current_price, seq, high_bidder_id, status from auction.auctions where id = ${a.id}`;
  t.same(row, { current_price: '11.00', seq: 2, high_bidder_id: bob, status: 'active' });
});

t.test('equal bids: the first wins, the second is too low', async (t) => {
  const a = await makeAuction(sql);
  const [x, y] = [await makeUser(sql), await makeUser(sql)];
  t.match(await bid(sql, a.id, x, '50.00'), { accepted: true });
  t.match(await bid(sql, a.id, y, '50.00'), { accepted: false, reason: 'too_low', min_amount: '51.00' });
});

t.test('every rejection reason', async (t) => {
  const u = await makeUser(sql);
  t.match(await bid(sql, randomUUID(), u, '10.00'), { accepted: false, reason: 'auction_not_found' });

  const future = await makeAuction(sql, { startsIn: 3600, endsIn: 7200 });
  t.match(await bid(sql, future.id, u, '10.00'), { accepted: false, reason: 'not_started' });

  const over = await makeAuction(sql, { startsIn: -10, endsIn: 0.2 });
  await new Promise((r) => setTimeout(r, 300));
  t.match(await bid(sql, over.id, u, '10.00'), { accepted: false, reason: 'ended' });

  const ended = await makeAuction(sql);
  await sql`select auction.end_auction(${ended.id})`;
  t.match(await bid(sql, ended.id, u, '10.00'), { accepted: false, reason: 'ended' });

  const cancelled = await makeAuction(sql);
  await sql`select auction.cancel_auction(${cancelled.id}, 'item damaged')`;
  t.match(await bid(sql, cancelled.id, u, '10.00'), { accepted: false, reason: 'cancelled' });

  const own = await makeAuction(sql);
  t.match(await bid(sql, own.id, own.seller, '10.00'), { accepted: false, reason: 'own_auction' });

  const open = await makeAuction(sql);
  for (const amount of ['0', '-5', '10.001', '10000000000', null]) {
    t.match(await bid(sql, open.id, u, amount), { accepted: false, reason: 'invalid_amount' }, `amount ${amount}`);
  }
  t.match(await bid(sql, open.id, u, '10.00', 'x'.repeat(129)), { accepted: false, reason: 'invalid_request_id' });
  const [row] = await sql`select seq from auction.auctions where id = ${open.id}`;
  t.equal(row.seq, 0, 'no rejected bid changed the auction');
  const [{ n }] = await sql`select count(*)::int as n from auction.bids where auction_id = ${open.id}`;
  t.equal(n, 0, 'no rejected bid was stored');
});

t.test('the boundary at end_time: accepted just before, rejected at and after', async (t) => {
  const a = await makeAuction(sql, { startsIn: -10, endsIn: 3600 });
  const u = await makeUser(sql);
  // Move end_time to the database clock plus a little, then bid on both sides of it.
  const [{ end }] = await sql`
    update auction.auctions set end_time = clock_timestamp() + interval '400 milliseconds'
     where id = ${a.id} returning end_time as end`;
  t.match(await bid(sql, a.id, u, '10.00'), { accepted: true });
  await sql`select pg_sleep_until(${end}::timestamptz)`;
  t.match(await bid(sql, a.id, u, '20.00'), { accepted: false, reason: 'ended' });
  const [b] = await sql`select max(created_at) as last from auction.bids where auction_id = ${a.id}`;
  t.ok(b.last < end, 'the accepted bid is recorded before end_time');
});

t.test('a bid that waited on the row lock past end_time is rejected', async (t) => {
  const a = await makeAuction(sql, { startsIn: -10, endsIn: 3600 });
  const u = await makeUser(sql);
  await sql`update auction.auctions set end_time = clock_timestamp() + interval '300 milliseconds' where id = ${a.id}`;
  const holder = await sql.reserve();
  await holder`begin`;
  await holder`select 1 from auction.auctions where id = ${a.id} for update`;
  const pending = bid(sql, a.id, u, '10.00');
  await new Promise((r) => setTimeout(r, 500));
  await holder`commit`;
  holder.release();
  t.match(await pending, { accepted: false, reason: 'ended' });
});

t.test('a pending auction whose start time passed is started by its first bid', async (t) => {
  const a = await makeAuction(sql, { startsIn: 0.2, endsIn: 3600 });
  const u = await makeUser(sql);
  t.match(await bid(sql, a.id, u, '10.00'), { reason: 'not_started' });
  await new Promise((r) => setTimeout(r, 300));
  t.match(await bid(sql, a.id, u, '10.00'), { accepted: true });
  const [row] = await sql`select status from auction.auctions where id = ${a.id}`;
  t.equal(row.status, 'active');
});

t.test('idempotent retries by request_id', async (t) => {
  const a = await makeAuction(sql);
  const u = await makeUser(sql);
  const first = await bid(sql, a.id, u, '12.00', 'req-1');
  t.match(first, { accepted: true, duplicate: false, seq: 1 });
  const again = await bid(sql, a.id, u, '12.00', 'req-1');
  t.match(again, { accepted: true, duplicate: true, seq: 1, bid_id: first.bid_id, amount: '12.00' });
  t.match(await bid(sql, a.id, u, '15.00', 'req-1'), { accepted: false, reason: 'request_id_conflict' });
  const other = await makeUser(sql);
  t.match(await bid(sql, a.id, other, '13.00', 'req-1'), { accepted: true, seq: 2 }, 'request ids are per user');
  const [{ n }] = await sql`select count(*)::int as n from auction.bids where auction_id = ${a.id}`;
  t.equal(n, 2);
});

t.test('concurrent retries of one request bid once', async (t) => {
  const a = await makeAuction(sql);
  const u = await makeUser(sql);
  const results = await Promise.all(Array.from({ length: 8 }, () => bid(sql, a.id, u, '20.00', 'same')));
  t.equal(results.filter((r) => r.accepted && !r.duplicate).length, 1);
  t.equal(results.filter((r) => r.accepted && r.duplicate).length, 7);
  t.equal(new Set(results.map((r) => r.bid_id)).size, 1);
});
