// Operator functions (sql/functions/admin.sql, lifecycle.sql) and the trigger guards (guards.sql), as an operator meets them in psql.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { toClientError } from '../../src/db/errors.ts';
import { freshDb } from '../helpers/db.ts';
import { bid, makeAuction, makeUser } from '../helpers/fixtures.ts';

const db = await freshDb(t);
const { sql } = db;

const auctionRow = async (id: string) => (await sql`select * from auction.auctions where id = ${id}`)[0];

t.test('ensure_user and create_item', async (t) => {
  const id = randomUUID();
  const [{ ensure_user: got }] = await sql`select auction.ensure_user(${id}, 'Ada')`;
  t.equal(got, id, 'returns the id');
  await sql`select auction.ensure_user(${id}, 'Someone else')`;
  const [u] = await sql`select name from auction.users where id = ${id}`;
  t.equal(u.name, 'Ada', 'idempotent: an existing user keeps their name');
  const anon = randomUUID();
  await sql`select auction.ensure_user(${anon})`;
  const [v] = await sql`select name from auction.users where id = ${anon}`;
  t.equal(v.name, anon.slice(0, 8), 'without a name the first 8 characters of the id');

  const [{ id: item }] = await sql`select auction.create_item('Vase', 'Ming, probably', ${id}) as id`;
  const [i] = await sql`select name, description, owner_id from auction.items where id = ${item}`;
  t.same(i, { name: 'Vase', description: 'Ming, probably', owner_id: id });
  await t.rejects(sql`select auction.create_item('')`, { code: '23514' }, 'an empty name is refused');
});

t.test('create_auction validates its arguments (AU014)', async (t) => {
  const seller = await makeUser(sql);
  const [{ id: item }] = await sql`select auction.create_item('Chair') as id`;
  const create = (price: string | null, inc: string | null, endsIn = 3600) => sql`
    select * from auction.create_auction(${item}, ${seller}, clock_timestamp(),
      clock_timestamp() + make_interval(secs => ${endsIn}), ${price}::numeric, ${inc}::numeric)`;
  for (const price of ['0', '-1', '1.001', null]) {
    await t.rejects(create(price, '1.00'), { code: 'AU014' }, `starting_price ${price}`);
  }
  for (const inc of ['0', '-0.01', '0.001']) {
    await t.rejects(create('10.00', inc), { code: 'AU014' }, `min_increment ${inc}`);
  }
  await t.rejects(create('10.00', '1.00', -1), { code: 'AU014', message: /end_time must be in the future/ });
  await t.rejects(sql`select auction.create_auction(${item}, ${seller}, now(), null, 10, 1)`,
    { code: 'AU014' }, 'end_time is required');
  t.match(toClientError(await create('0', '1').catch((e: unknown) => e)), { code: 'invalid_argument', status: 400 });
  const [a] = await create('10.00', '0.50');
  t.match(a, { status: 'pending', current_price: '10.00', seq: 0, high_bidder_id: null, min_increment: '0.50' });
});

t.test('create_auction by name: start_time defaults to now, the rest of the options to their defaults', async (t) => {
  const seller = await makeUser(sql);
  const item = async () => (await sql`select auction.create_item('Stool') as id`)[0].id as string;
  const [before] = await sql`select clock_timestamp() as at`;
  const [a] = await sql`select * from auction.create_auction(p_item_id => ${await item()}, p_creator_id => ${seller},
    p_end_time => clock_timestamp() + interval '1 hour', p_starting_price => 10)`;
  const [after] = await sql`select clock_timestamp() as at`;
  t.ok(a.start_time >= before.at && a.start_time <= after.at, 'start_time is the time of the call');
  t.match(a, { status: 'pending', starting_price: '10.00', min_increment: null, reserve_price: null, buy_now_price: null,
    soft_close_seconds: 0 });
  t.ok(Array.isArray(a.increment_table), "eBay's increment table");
  t.match(await bid(sql, a.id, await makeUser(sql), '10.00'), { accepted: true }, 'it takes bids at once');
  const [b] = await sql`select * from auction.create_auction(${await item()}, ${seller}, null, clock_timestamp() + interval '1 hour', 10, 1)`;
  t.ok(b.start_time <= new Date(Date.now() + 60_000) && b.status === 'pending', 'a null start_time, positionally, is now too');
  const [c] = await sql`select * from auction.create_auction(p_item_id => ${await item()}, p_creator_id => ${seller},
    p_end_time => clock_timestamp() + interval '1 hour', p_starting_price => 10, p_reserve_price => 50, p_soft_close_seconds => 30)`;
  t.match(c, { reserve_price: '50.00', soft_close_seconds: 30 }, 'options by name, in any subset');
  for (const [args, what] of [
    [sql`p_item_id => ${await item()}, p_creator_id => ${seller}, p_starting_price => 10`, 'end_time'],
    [sql`p_item_id => ${await item()}, p_creator_id => ${seller}, p_end_time => clock_timestamp() + interval '1 hour'`, 'starting_price'],
    [sql`p_item_id => null, p_creator_id => ${seller}, p_end_time => clock_timestamp() + interval '1 hour', p_starting_price => 10`, 'item_id'],
    [sql`p_item_id => ${await item()}, p_creator_id => null, p_end_time => clock_timestamp() + interval '1 hour', p_starting_price => 10`, 'creator_id'],
  ] as const) {
    await t.rejects(sql`select auction.create_auction(${args})`, { code: 'AU014', message: /are required/ }, `without ${what}`);
  }
});

t.test('cancel_auction: reason required, idempotent, not after the end', async (t) => {
  const a = await makeAuction(sql);
  for (const reason of [null, '', '   ']) {
    await t.rejects(sql`select auction.cancel_auction(${a.id}, ${reason})`, { code: 'AU014' }, `reason ${JSON.stringify(reason)}`);
  }
  await t.rejects(sql`select auction.cancel_auction(${randomUUID()}, 'x')`, { code: 'AU010' });
  const u = await makeUser(sql);
  t.ok((await bid(sql, a.id, u, '10.00')).accepted);
  const [c] = await sql`select * from auction.cancel_auction(${a.id}, 'counterfeit')`;
  t.match(c, { status: 'cancelled', cancel_reason: 'counterfeit', winner_id: null });
  const [again] = await sql`select * from auction.cancel_auction(${a.id}, 'another reason')`;
  t.match(again, { status: 'cancelled', cancel_reason: 'counterfeit' }, 'a second cancel changes nothing');

  const ended = await makeAuction(sql);
  await sql`select auction.end_auction(${ended.id})`;
  const err = await sql`select auction.cancel_auction(${ended.id}, 'too late')`.catch((e: unknown) => e);
  t.match(err, { code: 'AU011' });
  t.match(toClientError(err), { code: 'ended', status: 409 });

  // end_time passed but the end job has not run yet: the auction is over, its winner stands
  const over = await makeAuction(sql, { startsIn: -10, endsIn: 0.3 });
  t.ok((await bid(sql, over.id, u, '10.00')).accepted);
  await sql`select pg_sleep_until(end_time) from auction.auctions where id = ${over.id}`;
  await t.rejects(sql`select auction.cancel_auction(${over.id}, 'too late')`, { code: 'AU011' },
    'an auction past its end_time cannot be cancelled');
  t.match((await sql`select * from auction.end_auction_if_due(${over.id})`)[0], { status: 'ended', winner_id: u });
});

t.test('end_auction: winner is the high bidder, idempotent, refused before the start', async (t) => {
  const a = await makeAuction(sql);
  const [x, y] = [await makeUser(sql, 'x'), await makeUser(sql, 'y')];
  await bid(sql, a.id, x, '10.00');
  await bid(sql, a.id, y, '11.00');
  const [e] = await sql`select * from auction.end_auction(${a.id})`;
  t.match(e, { status: 'ended', winner_id: y, high_bidder_id: y, current_price: '11.00', seq: 2 });
  t.ok(e.ended_at, 'ended_at is set');
  t.ok(e.end_time <= e.ended_at, 'end_time moved to now');
  const [again] = await sql`select * from auction.end_auction(${a.id})`;
  t.same(again, e, 'ending again returns the same row');
  t.match(await bid(sql, a.id, x, '50.00'), { accepted: false, reason: 'ended' });

  const empty = await makeAuction(sql);
  const [n] = await sql`select * from auction.end_auction(${empty.id})`;
  t.match(n, { status: 'ended', winner_id: null, seq: 0 }, 'no bids, no winner');

  const future = await makeAuction(sql, { startsIn: 3600, endsIn: 7200 });
  const err = await sql`select auction.end_auction(${future.id})`.catch((e: unknown) => e);
  t.match(err, { code: 'AU013' });
  t.match(toClientError(err), { code: 'not_started' });
  const c = await makeAuction(sql);
  await sql`select auction.cancel_auction(${c.id}, 'x')`;
  t.match(toClientError(await sql`select auction.end_auction(${c.id})`.catch((e: unknown) => e)), { code: 'cancelled' });
  t.match(toClientError(await sql`select auction.end_auction(${randomUUID()})`.catch((e: unknown) => e)),
    { code: 'auction_not_found', status: 404 });
});

t.test('end_auction_if_due does nothing before end_time, ends it after; start_auction_if_due', async (t) => {
  const a = await makeAuction(sql, { startsIn: -10, endsIn: 0.5 });
  const u = await makeUser(sql);
  t.ok((await bid(sql, a.id, u, '10.00')).accepted);
  const [early] = await sql`select * from auction.end_auction_if_due(${a.id})`;
  t.match(early, { status: 'active', winner_id: null }, 'before end_time: unchanged');
  await sql`select pg_sleep_until(${early.end_time}::timestamptz)`;
  const [due] = await sql`select * from auction.end_auction_if_due(${a.id})`;
  t.match(due, { status: 'ended', winner_id: u });
  t.equal(due.end_time.getTime(), early.end_time.getTime(), 'end_time is kept');
  const [again] = await sql`select * from auction.end_auction_if_due(${a.id})`;
  t.same(again, due, 'idempotent');

  const later = await makeAuction(sql, { startsIn: 3600, endsIn: 7200 });
  t.match((await sql`select * from auction.start_auction_if_due(${later.id})`)[0], { status: 'pending' });
  const now = await makeAuction(sql, { startsIn: -1 });
  t.match((await sql`select * from auction.start_auction_if_due(${now.id})`)[0], { status: 'active', seq: 0 });
});

t.test('extend_auction: only later, and bids continue past the old end', async (t) => {
  const a = await makeAuction(sql, { startsIn: -10, endsIn: 0.5 });
  const u = await makeUser(sql);
  const old = await auctionRow(a.id);
  await t.rejects(sql`select auction.extend_auction(${a.id}, ${old.end_time})`, { code: 'AU014' }, 'the same end');
  await t.rejects(sql`select auction.extend_auction(${a.id}, ${old.end_time}::timestamptz - interval '1 minute')`,
    { code: 'AU014' }, 'an earlier end');
  await t.rejects(sql`select auction.extend_auction(${a.id}, null)`, { code: 'AU014' });
  await t.rejects(sql`select auction.extend_auction(${randomUUID()}, now() + interval '1 day')`, { code: 'AU010' });
  const [ext] = await sql`select * from auction.extend_auction(${a.id}, ${old.end_time}::timestamptz + interval '1 hour')`;
  t.equal(ext.end_time.getTime(), old.end_time.getTime() + 3600_000);
  await sql`select pg_sleep_until(${old.end_time}::timestamptz)`;
  const late = await bid(sql, a.id, u, '10.00');
  t.match(late, { accepted: true }, 'a bid after the old end is accepted');
  t.ok(late.created_at! >= old.end_time, 'and was placed after the old end');
  const [still] = await sql`select * from auction.end_auction_if_due(${a.id})`;
  t.equal(still.status, 'active', 'not due at the old end any more');

  const ended = await makeAuction(sql);
  await sql`select auction.end_auction(${ended.id})`;
  await t.rejects(sql`select auction.extend_auction(${ended.id}, now() + interval '1 day')`, { code: 'AU011' });
  const cancelled = await makeAuction(sql);
  await sql`select auction.cancel_auction(${cancelled.id}, 'x')`;
  await t.rejects(sql`select auction.extend_auction(${cancelled.id}, now() + interval '1 day')`, { code: 'AU012' });
});

t.test('trigger guards refuse direct writes that bypass place_bid', async (t) => {
  const a = await makeAuction(sql);
  const u = await makeUser(sql);
  t.ok((await bid(sql, a.id, u, '10.00')).accepted);
  const before = await auctionRow(a.id);

  await t.rejects(sql`update auction.auctions set current_price = 999 where id = ${a.id}`, { code: 'AU004' },
    'price without a bid');
  await t.rejects(sql`update auction.auctions set high_bidder_id = ${a.seller} where id = ${a.id}`, { code: 'AU004' },
    'high bidder without a bid');
  await t.rejects(sql`
    update auction.auctions set seq = seq + 1, current_price = current_price + 5, leader_max = current_price + 5,
           high_bidder_id = ${u}
     where id = ${a.id}`, { code: 'AU004' }, 'a well-formed advance with no stored bid fails at commit');
  await t.rejects(sql`update auction.auctions set seq = seq + 2, current_price = 100, leader_max = 100 where id = ${a.id}`, { code: 'AU004' },
    'two seqs need two stored bids');
  await t.rejects(sql`
    update auction.auctions set item_id = (select id from auction.items where id <> ${a.itemId} limit 1)
     where id = ${a.id}`, { code: 'AU002' }, 'item_id never changes');
  await t.rejects(sql`update auction.auctions set creator_id = ${u} where id = ${a.id}`, { code: 'AU002' });
  await t.rejects(sql`update auction.auctions set starting_price = 1 where id = ${a.id}`, { code: 'AU002' },
    'starting_price is fixed once bidding started');
  await t.rejects(sql`delete from auction.bids where auction_id = ${a.id}`, { code: 'AU003' });
  await t.rejects(sql`update auction.bids set amount = 1 where auction_id = ${a.id}`, { code: 'AU003' });
  await t.rejects(sql`update auction.auctions set status = 'pending' where id = ${a.id}`, { code: 'AU001' },
    'active -> pending');
  t.same(await auctionRow(a.id), before, 'nothing changed');
  t.equal((await sql`select count(*)::int as n from auction.bids where auction_id = ${a.id}`)[0].n, 1);
  t.match(toClientError(await sql`delete from auction.bids`.catch((e: unknown) => e)), { code: 'append_only' });

  // a direct end (psql) still names the winner, as end_auction does
  const d = await makeAuction(sql);
  t.ok((await bid(sql, d.id, u, '10.00')).accepted);
  const [direct] = await sql`update auction.auctions set status = 'ended' where id = ${d.id} returning *`;
  t.match(direct, { status: 'ended', winner_id: u });
  t.ok(direct.ended_at, 'ended_at is stamped');
  await t.rejects(sql`
    update auction.auctions set status = 'ended', winner_id = ${a.seller} where id = ${a.id}`, { code: '23514' },
    'the winner can only be the high bidder');

  // ended and cancelled auctions are frozen
  await sql`select auction.end_auction(${a.id})`;
  for (const set of [sql`status = 'active'`, sql`end_time = end_time + interval '1 day'`, sql`updated_at = now()`]) {
    await t.rejects(sql`update auction.auctions set ${set} where id = ${a.id}`, { code: 'AU001' });
  }
  const c = await makeAuction(sql);
  await sql`select auction.cancel_auction(${c.id}, 'x')`;
  await t.rejects(sql`update auction.auctions set status = 'pending', cancel_reason = null where id = ${c.id}`, { code: 'AU001' });
  await t.rejects(sql`update auction.auctions set cancel_reason = 'y' where id = ${c.id}`, { code: 'AU001' });

  // a new row is pending or active and starts at its starting price, whoever inserts it
  const [{ id: item }] = await sql`select auction.create_item('Rug') as id`;
  for (const status of ['ended', 'cancelled']) {
    await t.rejects(sql`
      insert into auction.auctions (item_id, creator_id, start_time, end_time, starting_price, status, cancel_reason)
      values (${item}, ${u}, now(), now() + interval '1 hour', 5, ${status}, 'x')`, { code: 'AU001' }, `insert ${status}`);
  }
  const [ins] = await sql`
    insert into auction.auctions (item_id, creator_id, start_time, end_time, starting_price, current_price, seq, high_bidder_id)
    values (${item}, ${u}, now(), now() + interval '1 hour', 5, 500, 7, ${u}) returning *`;
  t.match(ins, { current_price: '5.00', seq: 0, high_bidder_id: null, status: 'pending' }, 'bid fields are reset');
});

t.test('psql: a direct price update is refused with AU004', async (t) => {
  const a = await makeAuction(sql);
  const r = spawnSync('psql', [db.url, '-X', '-v', 'ON_ERROR_STOP=1', '-v', 'VERBOSITY=verbose',
    '-c', `update auction.auctions set current_price = 500 where id = '${a.id}'`], { encoding: 'utf8' });
  t.equal(r.error, undefined, 'psql runs');
  t.not(r.status, 0, 'psql exits non-zero');
  t.match(r.stderr, /ERROR:\s+AU004: auction .* price and high bidder change only with a bid/);
  t.equal((await auctionRow(a.id)).current_price, '10.00');
});

t.test('views: live_auctions and bid_history', async (t) => {
  const [x, y] = [await makeUser(sql, 'Xavier'), await makeUser(sql, 'Yolanda')];
  const soon = await makeAuction(sql, { endsIn: 600 });
  const later = await makeAuction(sql, { endsIn: 1200 });
  const pending = await makeAuction(sql, { startsIn: 60, endsIn: 900 });
  const gone = await makeAuction(sql);
  const cancelled = await makeAuction(sql);
  await sql`select auction.end_auction(${gone.id})`;
  await sql`select auction.cancel_auction(${cancelled.id}, 'x')`;
  await bid(sql, later.id, x, '10.00');
  await bid(sql, later.id, y, '12.50', 'req-1');

  const mine = [soon.id, later.id, pending.id, gone.id, cancelled.id];
  const live = await sql`select * from auction.live_auctions where id = any(${mine}::uuid[])`;
  t.same(live.map((r) => r.id), [soon.id, pending.id, later.id], 'open auctions only, soonest end first');
  t.match(live[2], { item: 'lamp', status: 'active', current_price: '12.50', bids: 2, high_bidder_id: y, high_bidder: 'Yolanda' });
  t.match(live[1], { status: 'pending', bids: 0, high_bidder: null });
  t.ok(live.every((r) => typeof r.time_left === 'string' && r.time_left !== '00:00:00'), 'time_left is an interval');

  const hist = await sql`select * from auction.bid_history where auction_id = ${later.id} order by seq`;
  t.match(hist, [
    { seq: 1, amount: '10.00', user_id: x, bidder: 'Xavier', request_id: null },
    { seq: 2, amount: '12.50', user_id: y, bidder: 'Yolanda', request_id: 'req-1' },
  ]);
  t.equal(hist.length, 2);
  const [winner] = await sql`
    select a.winner_id, u.name from auction.end_auction(${later.id}) a join auction.users u on u.id = a.winner_id`;
  t.same(winner, { winner_id: y, name: 'Yolanda' });
});

t.test('only an item\'s owner may auction it (AU016); ownerless items anyone; assign_item_owner', async (t) => {
  const [a, b] = await Promise.all([makeUser(sql, 'A'), makeUser(sql, 'B')]);
  const end = new Date(Date.now() + 3600_000);
  const create = (item: string, creator: string) =>
    sql`select id from auction.create_auction(p_item_id => ${item}, p_creator_id => ${creator}, p_end_time => ${end}, p_starting_price => 10)`;
  const [{ id: owned }] = await sql`select auction.create_item('A''s lamp', '', ${a}) as id`;
  const err = await create(owned, b).catch((e: unknown) => e);
  t.match(err, { code: 'AU016' }, 'B may not auction A\'s item');
  t.match(toClientError(err), { code: 'not_item_owner', status: 403, message: 'only the owner of this item may auction it' });
  await t.rejects(sql`insert into auction.auctions (item_id, creator_id, start_time, end_time, starting_price, status)
                      values (${owned}, ${b}, now(), ${end}, 10, 'pending')`, { code: 'AU016' }, 'nor by a direct insert');
  const [mine] = await create(owned, a);
  t.ok(mine.id, 'A still may, afterwards');

  const [{ id: free }] = await sql`select auction.create_item('seeded lamp') as id`;
  const [byB] = await create(free, b);
  t.ok(byB.id, 'an item without an owner: anyone');
  await sql`select auction.cancel_auction(${byB.id}, 'done')`;

  const [item] = await sql`select * from auction.assign_item_owner(${free}, ${a})`;
  t.match(item, { id: free, owner_id: a }, 'the operator gives it an owner');
  t.same(await sql`select * from auction.assign_item_owner(${free}, ${a})`, [item], 'idempotent');
  await t.rejects(create(free, b), { code: 'AU016' }, 'now B may not');
  t.ok((await create(free, a))[0].id, 'and A may');
  t.match(toClientError(await sql`select auction.assign_item_owner(${randomUUID()}, ${a})`.catch((e: unknown) => e)),
    { code: 'item_not_found', status: 404 });
  t.match(toClientError(await sql`select auction.assign_item_owner(${free}, ${randomUUID()})`.catch((e: unknown) => e)),
    { code: 'user_not_found', status: 404 });
  t.match(await sql`select owner_id from auction.assign_item_owner(${free}, null)`, [{ owner_id: null }], 'null: no owner again');
});
