// At most one open auction per item, even when many connections create one at the same moment.
import t from 'tap';
import { connect } from '../../src/db/connect.ts';
import { toClientError } from '../../src/db/errors.ts';
import { freshDb } from '../helpers/db.ts';
import { makeUser } from '../helpers/fixtures.ts';

const db = await freshDb(t);
const { sql } = db;

async function newItem() {
  const [{ id }] = await sql`select auction.create_item('clock', 'a grandfather clock') as id`;
  return id as string;
}

function createAuction(s: typeof sql, itemId: string, seller: string, startsIn = -1, endsIn = 3600) {
  return s`
    select * from auction.create_auction(${itemId}, ${seller},
      clock_timestamp() + make_interval(secs => ${startsIn}), clock_timestamp() + make_interval(secs => ${endsIn}),
      '10.00', '1.00')`;
}

t.test('10 concurrent create_auction for one item: one wins, nine hit auctions_one_open_per_item', async (t) => {
  const item = await newItem();
  const sellers: string[] = [];
  for (let i = 0; i < 10; i++) sellers.push(await makeUser(sql, `seller${i}`));
  const conns = Array.from({ length: 10 }, () => connect(db.url, { max: 1 }));
  t.teardown(() => Promise.all(conns.map((c) => c.close())));
  await Promise.all(conns.map((c) => c.sql`select 1`));

  const results = await Promise.allSettled(conns.map((c, i) => createAuction(c.sql, item, sellers[i])));
  const ok = results.filter((r) => r.status === 'fulfilled');
  const failed = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Record<string, unknown>] : []));
  t.equal(ok.length, 1, 'exactly one auction was created');
  t.equal(failed.length, 9);
  t.same(failed.map((e) => [e.code, e.constraint_name]), Array(9).fill(['23505', 'auctions_one_open_per_item']),
    'the others fail with a unique violation on auctions_one_open_per_item');
  t.same(new Set(failed.map((e) => toClientError(e).code)), new Set(['item_has_open_auction']), 'mapped for clients');
  t.match(toClientError(failed[0]), { status: 409 });

  const [{ n }] = await sql`select count(*)::int as n from auction.auctions where item_id = ${item}`;
  t.equal(n, 1, 'one row in the table');
});

t.test('after the open auction ends or is cancelled, the item can be auctioned again', async (t) => {
  const item = await newItem();
  const seller = await makeUser(sql);
  const [first] = await createAuction(sql, item, seller);
  t.match(await createAuction(sql, item, seller, 3600, 7200).catch((e: unknown) => e),
    { constraint_name: 'auctions_one_open_per_item' }, 'a pending auction also counts as open');

  await sql`select auction.end_auction(${first.id})`;
  const [second] = await createAuction(sql, item, seller);
  t.ok(second.id, 'created after the first ended');
  t.match(await createAuction(sql, item, seller).catch((e: unknown) => e), { constraint_name: 'auctions_one_open_per_item' });

  await sql`select auction.cancel_auction(${second.id}, 'wrong reserve')`;
  const [third] = await createAuction(sql, item, seller);
  t.ok(third.id, 'created after the second was cancelled');
  const rows = await sql`select status from auction.auctions where item_id = ${item} order by created_at`;
  t.same(rows.map((r) => r.status), ['ended', 'cancelled', 'pending']);
});

t.test('end_time must be after start_time', async (t) => {
  const item = await newItem();
  const seller = await makeUser(sql);
  const err = await createAuction(sql, item, seller, 7200, 3600).then(() => null, (e: unknown) => e);
  t.match(err, { code: '23514', constraint_name: 'auctions_end_after_start' });
  t.match(toClientError(err), { code: 'invalid_argument', status: 400 });
  const equal = await sql`
    select auction.create_auction(${item}, ${seller}, t, t, '10.00', '1.00')
      from (select clock_timestamp() + interval '1 hour' as t) x`.then(() => null, (e: unknown) => e);
  t.match(equal, { constraint_name: 'auctions_end_after_start' }, 'equal times are refused too');
  const [{ n }] = await sql`select count(*)::int as n from auction.auctions where item_id = ${item}`;
  t.equal(n, 0);
});
