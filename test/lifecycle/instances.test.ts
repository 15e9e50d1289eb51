import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { freshDb } from '../helpers/db.ts';
import { makeAuction, makeUser, bid } from '../helpers/fixtures.ts';
import { until } from '../helpers/wait.ts';
import { startApp, listenAuctions } from './helpers.ts';

/** An instance in its own process (src/server.ts), so it can be killed with SIGKILL. */
async function spawnInstance(t: Test, url: string) {
  // without tap's loaders (NODE_OPTIONS), which would record this process as part of the test run
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_OPTIONS' && !k.startsWith('TAP')));
  const child = spawn(process.execPath, ['src/server.ts'], {
    env: { ...env, DATABASE_URL: url, PORT: '0', LOG_LEVEL: 'info', JWT_SECRET: 'x'.repeat(32), INSTANCE_ID: 'child' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('child instance did not start')), 30_000);
    child.stdout!.on('data', (b: Buffer) => {
      if (b.toString().includes('Server listening')) { clearTimeout(timer); resolve(); }
    });
    child.once('exit', (code) => reject(new Error(`child exited with ${code}`)));
  });
  child.stdout!.resume();
  return child;
}

t.test('three instances on one database: each auction ends exactly once, one instance closed and one killed mid-way', async (t) => {
  const db = await freshDb(t);
  const a = await startApp(t, db.url);
  const b = await startApp(t, db.url);
  const c = await spawnInstance(t, db.url);
  const feed = await listenAuctions(t, db.url);
  const seller = await makeUser(db.sql, 'seller');
  const bidder = await makeUser(db.sql, 'bidder');

  const n = 30;
  const auctions = [];
  for (let i = 0; i < n; i++) {
    // ends spread over ~1.5–6 s after creation; every third gets a bid
    const x = await makeAuction(db.sql, { seller, startsIn: -1, endsIn: 1.5 + (i % 10) * 0.5, schedule: (i % 2 ? a.app : b.app).scheduleAuction });
    await feed.listen(x.id);
    if (i % 3 === 0) t.ok((await bid(db.sql, x.id, bidder, '10.00')).accepted, 'bid accepted');
    auctions.push(x);
  }
  // mid-way: some have ended, most have not
  await until(() => feed.ended().length >= 3, { timeoutMs: 20_000, what: 'the first auctions to end' });
  c.kill('SIGKILL');
  await b.close();

  await until(() => new Set(feed.ended().map((e) => e.auction_id)).size === n, { timeoutMs: 40_000, what: `${n} auctions to end` });
  await feed.settled(auctions.map((x) => x.id)); // a duplicate, if there were one, is in by now
  const perAuction = new Map<string, number>();
  for (const e of feed.ended()) perAuction.set(e.auction_id, (perAuction.get(e.auction_id) ?? 0) + 1);
  t.same([...perAuction.values()].filter((k) => k !== 1), [], 'no auction ended twice');
  t.equal(perAuction.size, n, 'every auction ended');
  const [row] = await db.sql`
    select count(*) filter (where status = 'ended')::int as ended, count(*) filter (where ended_at < end_time)::int as early,
           count(*) filter (where winner_id = ${bidder})::int as won
      from auction.auctions`;
  t.same(row, { ended: n, early: 0, won: n / 3 }, 'all ended, none early, the bidder won the ones with a bid');
  t.ok(a.app.readinessChecks.get('jobs')!());
});
