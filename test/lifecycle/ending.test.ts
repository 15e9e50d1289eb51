import t from 'tap';
import { freshDb } from '../helpers/db.ts';
import { makeAuction, makeUser, bid } from '../helpers/fixtures.ts';
import { until } from '../helpers/wait.ts';
import { startApp, listenAuctions, untilDatabaseTime } from './helpers.ts';

t.test('short auctions start and end on their own with the right winner, one auction_ended each', async (t) => {
  const db = await freshDb(t);
  const { app } = await startApp(t, db.url);
  const feed = await listenAuctions(t, db.url);
  const seller = await makeUser(db.sql, 'seller');
  const [alice, bob] = [await makeUser(db.sql, 'alice'), await makeUser(db.sql, 'bob')];

  const schedule = app.scheduleAuction;
  const withBids = await makeAuction(db.sql, { seller, startsIn: 0.3, endsIn: 2.5, schedule });
  const noBids = await makeAuction(db.sql, { seller, startsIn: -1, endsIn: 1.5, schedule });
  const later = await makeAuction(db.sql, { seller, startsIn: 1, endsIn: 3, schedule });
  for (const a of [withBids, noBids, later]) await feed.listen(a.id);

  await until(async () => (await db.sql`select status from auction.auctions where id = ${withBids.id}`)[0].status === 'active', { timeoutMs: 10_000, what: 'the start job' });
  t.ok((await bid(db.sql, withBids.id, alice, '10.00')).accepted);
  t.ok((await bid(db.sql, withBids.id, bob, '12.00')).accepted);
  t.ok((await bid(db.sql, withBids.id, alice, '15.00')).accepted);

  await until(() => feed.ended().length >= 3, { timeoutMs: 15_000, what: 'three auction_ended' });
  await feed.settled([withBids.id, noBids.id, later.id]); // a duplicate, if there were one, is in by now
  const e = feed.ended(withBids.id);
  t.equal(e.length, 1, 'exactly one auction_ended');
  t.equal(e[0].winner_id, alice);
  t.equal(e[0].final_price, '15.00');
  t.ok(Date.parse(e[0].time) >= Date.parse(e[0].end_time), 'not before end_time');
  t.same(feed.ended(noBids.id).map((x) => [x.winner_id, x.final_price]), [[null, null]], 'no bids: no winner');
  t.equal(feed.ended(later.id).length, 1);
  t.equal(feed.events.filter((x) => x.type === 'auction_started' && x.auction_id === later.id).length, 1, 'started once by its job');

  const rows = await db.sql`select status, winner_id, ended_at >= end_time as on_or_after from auction.auctions where id = ${withBids.id}`;
  t.same(rows[0], { status: 'ended', winner_id: alice, on_or_after: true });
  // scheduling again (say, a retried request) leaves one pending job per auction and kind
  const [extra] = await db.sql`select count(*)::int as n from pgboss.job where singleton_key = ${later.id}`;
  t.equal(extra.n, 2, 'one start and one end job');
});

t.test('an extension before the end: the end job re-enqueues and the auction does not end early', async (t) => {
  const db = await freshDb(t);
  const { app } = await startApp(t, db.url);
  const feed = await listenAuctions(t, db.url);
  const seller = await makeUser(db.sql, 'seller');
  const alice = await makeUser(db.sql, 'alice');
  const a = await makeAuction(db.sql, { seller, startsIn: -1, endsIn: 1.5, schedule: app.scheduleAuction });
  await feed.listen(a.id);
  t.ok((await bid(db.sql, a.id, alice, '11.00')).accepted);
  const [ext] = await db.sql<{ end_time: Date }[]>`
    select end_time from auction.extend_auction(${a.id}, clock_timestamp() + interval '3.5 seconds')`;

  await until(() => feed.ended(a.id).length > 0, { timeoutMs: 15_000, what: 'auction_ended' });
  await feed.settled([a.id]);
  const e = feed.ended(a.id);
  t.equal(e.length, 1, 'one auction_ended');
  t.equal(Date.parse(e[0].end_time), ext.end_time.getTime(), 'ended at the extended end_time');
  t.ok(Date.parse(e[0].time) >= ext.end_time.getTime(), 'not before the extended end_time');
  t.equal(e[0].winner_id, alice);
  const jobs = await db.sql`select data->>'at' as at, state from pgboss.job where name = 'auction-end' and singleton_key = ${a.id} order by created_on`;
  t.same(jobs.map((j) => Date.parse(j.at)), [a.end_time.getTime(), ext.end_time.getTime()], 'the first end job found it extended and enqueued one for the new end_time');
});

t.test('soft close: bids in the last seconds push the end, and the end job follows to the last extension', async (t) => {
  const db = await freshDb(t);
  const { app } = await startApp(t, db.url);
  const feed = await listenAuctions(t, db.url);
  const seller = await makeUser(db.sql, 'seller');
  const [alice, bob] = [await makeUser(db.sql, 'alice'), await makeUser(db.sql, 'bob')];
  const a = await makeAuction(db.sql, { seller, startsIn: -1, endsIn: 1.5, softCloseSeconds: 2, schedule: app.scheduleAuction });
  const unmet = await makeAuction(db.sql, { seller, startsIn: -1, endsIn: 1.5, reservePrice: '100.00', schedule: app.scheduleAuction });
  await feed.listen(a.id);
  await feed.listen(unmet.id);

  const first = await bid(db.sql, a.id, alice, '11.00');
  t.equal(first.end_time!.getTime(), a.end_time.getTime() + 2000, 'a bid 1.5 s before the end moves it 2 s later');
  t.ok((await bid(db.sql, unmet.id, bob, '50.00')).accepted);
  // into the new last second: the rule is about time itself
  await untilDatabaseTime(db.sql, new Date(first.end_time!.getTime() - 1000), 'the last second before the new end');
  const second = await bid(db.sql, a.id, bob, '12.00');
  t.ok(second.accepted, 'a bid in the new last seconds is accepted');
  t.equal(second.end_time!.getTime(), first.end_time!.getTime() + 2000, 'and extends again');

  await until(() => feed.ended(a.id).length > 0 && feed.ended(unmet.id).length > 0, { timeoutMs: 20_000, what: 'both auction_ended' });
  await feed.settled([a.id, unmet.id]);
  const e = feed.ended(a.id);
  t.equal(e.length, 1, 'one auction_ended');
  t.equal(Date.parse(e[0].end_time), second.end_time!.getTime(), 'at the last extended end_time');
  t.ok(Date.parse(e[0].time) >= second.end_time!.getTime(), 'not before it');
  t.equal(e[0].winner_id, bob);
  t.same(feed.events.filter((x) => x.auction_id === a.id && x.type === 'auction_extended').length, 2, 'subscribers heard both extensions');
  t.match(feed.ended(unmet.id)[0], { winner_id: null, final_price: '50.00', reserve_met: false }, 'reserve unmet: no winner');
});
