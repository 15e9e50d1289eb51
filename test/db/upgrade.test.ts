// A database built by the code before function files (migrations 000001-000008, applied by that migrator, a
// frozen copy in test/fixtures/) upgrades to today's layout: nothing lost, the same schema as a fresh one.
import t from 'tap';
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate, SQL_DIR } from '../../src/db/migrate.ts';
import { dumpSchema } from '../../src/db/dump.ts';
import { migrate as migrateBefore } from '../fixtures/migrate-before-function-files.ts';
import { emptyDb } from '../helpers/db.ts';

const oldDir = mkdtempSync(join(tmpdir(), 'auction-sql-before-'));
t.teardown(() => rmSync(oldDir, { recursive: true, force: true }));
for (const f of readdirSync(SQL_DIR).filter((f) => /^00000[1-8]_.*\.sql$/.test(f))) copyFileSync(join(SQL_DIR, f), join(oldDir, f));

const old = await emptyDb(t, { max: 2 });
const fresh = await emptyDb(t, { max: 1 });
const { sql } = old;

const ALICE = '00000000-0000-4000-8000-00000000a11c';
const BOB = '00000000-0000-4000-8000-000000000b0b';
const CAROL = '00000000-0000-4000-8000-00000000ca01';
const DAVE = '00000000-0000-4000-8000-00000000da1e';

/** Every row of the auction tables, as JSON: what must survive the upgrade. */
const contents = async () => Object.fromEntries(await Promise.all(['users', 'items', 'auctions', 'bids'].map(async (table) => {
  const [{ rows }] = await sql`select coalesce(jsonb_agg(to_jsonb(x) order by x.id), '[]') as rows from ${sql('auction.' + table)} x`;
  return [table, rows];
})));

t.test('a database migrated before function files upgrades with its data and ends as a fresh one', async (t) => {
  t.same(await migrateBefore(sql, { dir: oldDir }), readdirSync(oldDir).sort(), 'the old code applied 000001-000008');

  // data made through that schema's own functions: bids with proxies, a reserve and soft close; an auction
  // ended with a winner, one cancelled, one pending, one bought now
  for (const [id, name] of [[ALICE, 'Alice'], [BOB, 'Bob'], [CAROL, 'Carol'], [DAVE, 'Dave']]) {
    await sql`select auction.ensure_user(${id}, ${name})`;
  }
  const create = async (startsIn: string, o: { reserve?: number; buyNow?: number; softClose?: number } = {}) => (await sql`
    select id from auction.create_auction(auction.create_item('thing', '', ${ALICE}), ${ALICE},
      clock_timestamp() + ${startsIn}::interval, clock_timestamp() + ${startsIn}::interval + interval '2 hours', 10, null, null,
      ${o.reserve ?? null}::numeric, ${o.buyNow ?? null}::numeric, ${o.softClose ?? 0})`)[0].id as string;
  const live = await create('-1 minute', { reserve: 50, softClose: 60 });
  await sql`select auction.place_bid(${live}, ${BOB}, null, 'bob-1', 30)`;
  await sql`select auction.place_bid(${live}, ${CAROL}, 20, 'carol-1')`;
  await sql`select auction.place_bid(${live}, ${CAROL}, null, 'carol-2', 60)`;
  const ended = await create('-1 minute');
  await sql`select auction.place_bid(${ended}, ${BOB}, 15, 'bob-2')`;
  await sql`select auction.end_auction(${ended})`;
  await sql`select auction.cancel_auction(${await create('-1 minute')}, 'withdrawn')`;
  await create('1 day');
  const bought = await create('-1 minute', { buyNow: 100 });
  await sql`select auction.buy_now(${bought}, ${DAVE}, 'dave-1')`;
  const before = await contents();
  t.equal(before.bids.length, 7, 'seven bid rows (five on the live auction: proxies answer)');

  const applied = await migrate(sql);
  t.same(applied.filter((f) => !f.startsWith('functions/')), ['000009_judge_in_steps.sql', '000010_psql_search_path.sql',
    '000011_item_owner_auctions.sql', '000012_least_privilege.sql', '000013_statement_notify.sql'],
    'the new migrations, then every function file');
  t.ok(applied.includes('functions/bids.sql'));
  t.same(await contents(), before, 'every row of users, items, auctions and bids survived');

  await migrate(fresh.sql);
  const upgraded = await dumpSchema(sql);
  t.ok(upgraded.includes('CREATE OR REPLACE FUNCTION auction.proxy_ladder'), 'the dump shows the new functions');
  t.equal(upgraded, await dumpSchema(fresh.sql), 'the same schema, by the dump, as a fresh database');

  // the upgraded database goes on where it was: a retry from before the upgrade gets its first outcome,
  // and a new maximum climbs over the old ones
  const [retry] = await sql`select * from auction.place_bid(${live}, ${CAROL}, 20, 'carol-1')`;
  const [first] = await sql`select id from auction.bids where auction_id = ${live} and request_id = 'carol-1'`;
  t.match(retry, { accepted: true, duplicate: true, bid_id: first.id });
  const [next] = await sql`select * from auction.place_bid(${live}, ${DAVE}, null, 'dave-2', 100)`;
  t.match(next, { accepted: true, is_leading: true, amount: '61.00', seq: 7 }, "one increment over Carol's maximum, shown first");
  t.match((await sql`select high_bidder_id, leader_max, current_price, seq from auction.auctions where id = ${live}`)[0],
    { high_bidder_id: DAVE, leader_max: '100.00', current_price: '61.00', seq: 7 });
});
