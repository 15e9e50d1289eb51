import t from 'tap';
import { freshDb } from '../helpers/db.ts';
import { makeUser, makeAuction, bid } from '../helpers/fixtures.ts';
import { until } from '../helpers/wait.ts';
import { startApp, listenAuctions, untilDatabaseTime } from './helpers.ts';

t.test('auctions created in psql with no job still start and end: catch-up at start-up, then the sweep', async (t) => {
  const db = await freshDb(t);
  const feed = await listenAuctions(t, db.url);
  const seller = await makeUser(db.sql, 'seller');
  const bob = await makeUser(db.sql, 'bob');

  // Came due while no instance ran: ended by the catch-up at start-up.
  const overdue = await makeAuction(db.sql, { seller, startsIn: -1, endsIn: 0.5 });
  // Still open at start-up: the catch-up enqueues its jobs.
  const open = await makeAuction(db.sql, { seller, startsIn: 1, endsIn: 3 });
  for (const a of [overdue, open]) await feed.listen(a.id);
  t.ok((await bid(db.sql, overdue.id, bob, '20.00')).accepted);
  await untilDatabaseTime(db.sql, overdue.end_time, 'the overdue auction to come due');

  await startApp(t, db.url);
  t.equal(feed.ended(overdue.id).length, 1, 'the overdue auction ended during start-up');
  t.equal(feed.ended(overdue.id)[0].winner_id, bob);
  const jobs = await db.sql`select 1 from pgboss.job where singleton_key = ${open.id} and name = 'auction-end'`;
  t.equal(jobs.length, 1, 'the catch-up enqueued the end job of the open one');

  // Created in psql while the instance runs: the sweep finds it has no job.
  const later = await makeAuction(db.sql, { seller, startsIn: 2, endsIn: 9 });
  await feed.listen(later.id);

  await until(() => feed.ended(open.id).length > 0 && feed.ended(later.id).length > 0, { timeoutMs: 30_000, what: 'both to end' });
  await feed.settled([open.id, later.id]);
  for (const a of [open, later]) {
    t.equal(feed.ended(a.id).length, 1, 'one auction_ended');
    t.equal(feed.events.filter((e) => e.type === 'auction_started' && e.auction_id === a.id).length, 1, 'one auction_started');
  }
  const [row] = await db.sql`select ended_at >= end_time as ok, status from auction.auctions where id = ${later.id}`;
  t.same(row, { ok: true, status: 'ended' });
  const laterJobs = await db.sql`select 1 from pgboss.job where singleton_key = ${later.id} and name = 'auction-end'`;
  t.equal(laterJobs.length, 1, 'the sweep enqueued its end job');
});

t.test('the sweep ends a due auction whose job is gone', async (t) => {
  const db = await freshDb(t);
  const { app } = await startApp(t, db.url);
  const feed = await listenAuctions(t, db.url);
  const a = await makeAuction(db.sql, { startsIn: -1, endsIn: 1, schedule: app.scheduleAuction });
  await feed.listen(a.id);
  const gone = await db.sql`delete from pgboss.job where singleton_key = ${a.id}`;
  t.equal(gone.count, 2, 'both its jobs deleted');
  await until(() => feed.ended(a.id).length > 0, { timeoutMs: 20_000, what: 'auction_ended' });
  t.equal(feed.ended(a.id).length, 1);
  t.ok(app.readinessChecks.get('jobs')!(), 'jobs readiness check is up');
});
