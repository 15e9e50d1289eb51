import t from 'tap';
import { randomUUID } from 'node:crypto';
import { freshDb } from '../helpers/db.ts';
import { makeAuction, makeUser } from '../helpers/fixtures.ts';

// PL/pgSQL keeps a generic plan per statement for the session's life; one made while the tables are tiny
// would scan them sequentially forever after (enable_seqscan = off in sql/functions/). The bid path must not.
const { sql } = await freshDb(t);

t.test('bids, retries, buy-now and the commit-time checks read bids and auctions by index only', async (t) => {
  const a = await makeAuction(sql, { startingPrice: '1.00', minIncrement: '1.00', buyNowPrice: '500.00' });
  const other = await makeAuction(sql, { startingPrice: '1.00', minIncrement: '1.00', buyNowPrice: '500.00' });
  const users = [await makeUser(sql, 'ip-a'), await makeUser(sql, 'ip-b'), await makeUser(sql, 'ip-c')];
  // statistics of a new database after autovacuum's first round: both tables (nearly) empty
  await sql`vacuum analyze auction.bids, auction.auctions`;
  const scans = await sql.reserve();
  t.teardown(() => scans.release());
  await scans`begin`;
  // more than the five custom plans a cached statement gets before its generic plan is chosen
  for (let round = 0; round < 12; round++) {
    const rid = randomUUID();
    const bidders = [users[round % 3], users[(round + 1) % 3], users[round % 3]];
    await scans`select * from auction.place_bids(${[a.id, a.id, a.id]}::uuid[], ${bidders}::uuid[],
                  ${[`${2 * round + 1}.00`, `${2 * round + 2}.00`, `${2 * round + 1}.00`]}::numeric[],
                  ${[rid, randomUUID(), rid]}::text[], null)`;
    await scans`select * from auction.place_bid(${a.id}, ${bidders[0]}, ${`${2 * round + 1}.00`}, ${rid})`; // a retry
  }
  await scans`select * from auction.buy_now(${other.id}, ${users[0]}, 'buy-1')`;
  await scans`select * from auction.buy_now(${other.id}, ${users[0]}, 'buy-1')`;
  await scans`set constraints all immediate`; // the deferred checks run now, inside this transaction
  const rows = await scans<{ relname: string; seq_scan: string; idx_scan: string }[]>`
    select relname, seq_scan, idx_scan from pg_stat_xact_user_tables where schemaname = 'auction' and relname in ('bids', 'auctions') order by relname`;
  await scans`commit`;
  t.same(rows.map((r) => [r.relname, Number(r.seq_scan)]), [['auctions', 0], ['bids', 0]], 'no sequential scan');
  t.ok(rows.every((r) => Number(r.idx_scan) > 12), 'every read went through an index');
  const [{ seq }] = await sql`select seq from auction.auctions where id = ${a.id}`;
  t.equal(Number(seq), 24, 'the bids were accepted (two per round, the in-batch copy and the retry add none)');
});
