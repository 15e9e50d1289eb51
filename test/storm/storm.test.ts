import t from 'tap';
import { freshDb } from '../helpers/db.ts';
import { makeAuction, makeUser } from '../helpers/fixtures.ts';
import { startInstance, TEST_SECRET, type Instance } from '../helpers/app.ts';
import { check, closeAll, runStorm, settle } from './engine.ts';

// The short storm inside `make test`; `make soak` runs the long one with more faults (test/storm/soak.ts).
const db = await freshDb(t, { max: 20 });
const instances: Instance[] = [];
for (let i = 0; i < 3; i++) instances.push(await startInstance(t, db.url, { WS_RATE_LIMIT_PER_SEC: '1000', WS_RATE_BURST: '1000', WS_USER_RATE_LIMIT_PER_SEC: '1000', WS_USER_RATE_BURST: '1000', WS_UPGRADES_PER_IP_PER_MIN: '1000000' }));
const live = new Set(instances);

const seller = await makeUser(db.sql, 'storm-seller');
const auctions: string[] = [];
for (let i = 0; i < 10; i++) auctions.push((await makeAuction(db.sql, { seller, startingPrice: '1.00', minIncrement: '0.01', endsIn: 3600 })).id);
// two that end during the storm: bids after end_time must all be refused
for (let i = 0; i < 2; i++) auctions.push((await makeAuction(db.sql, { seller, startingPrice: '1.00', minIncrement: '0.01', endsIn: 1.5 })).id);

t.test('a storm over three instances, with a LISTEN backend killed and an instance crashing, keeps every invariant', async (t) => {
  const result = await runStorm({
    sql: db.sql, secret: TEST_SECRET, auctions, clients: 48, bidsPerClient: 15, subscriptionsPerClient: 3, retries: 10,
    endpoints: () => [...live].map((i) => ({ ws: i.ws })),
  }, async (decided) => {
    // faults by progress, not by the clock: the storm of 720 operations may take well under a second
    await decided(180);
    await db.sql`select pg_terminate_backend(${instances[1].app.listenHub.backendPid!})`;
    await decided(360);
    // a crash as its clients see it: sockets cut without a close frame, the instance gone
    const dead = instances[2];
    live.delete(dead);
    for (const c of dead.app.connections) c.terminate();
    await dead.close();
  });
  t.teardown(() => closeAll(result));
  await db.sql`select auction.end_auction_if_due(id) from auction.auctions where id = any(${auctions}::uuid[])`;
  t.ok(await settle(db.sql, result, auctions, 10_000, () => [...live].map((i) => ({ ws: i.ws }))), 'every client caught up');
  const { violations, bids, deliveriesChecked } = await check(db.sql, result, auctions);
  t.same(violations, [], 'no invariant is violated');
  t.ok(bids > 0, `${bids} bids accepted of ${result.ops.length} operations`);
  t.equal(result.counts.unknown ?? 0, 0, 'every operation got an outcome (retried by request_id after reconnects)');
  t.ok(result.clients.some((c) => c.reconnects > 0), 'clients of the crashed instance reconnected and resumed');
  t.comment(`ops ${JSON.stringify(result.counts)}, ${deliveriesChecked} deliveries checked, ${result.durationMs} ms`);

  // The checker itself can fail: tamper with what was recorded and it must say so.
  const c = result.clients.find((x) => [...x.seen.values()].some((m) => m.size > 0))!;
  const [auction, got] = [...c.seen.entries()].find(([, m]) => m.size > 0)!;
  const firstSeq = [...got.keys()][0];
  const saved = got.get(firstSeq)!;
  got.delete(firstSeq);
  const acked = result.ops.find((o) => o.outcome === 'accepted')!;
  const bidId = acked.bidId;
  acked.bidId = '00000000-0000-4000-8000-000000000000';
  const tampered = await check(db.sql, result, auctions);
  t.ok(tampered.violations.some((x) => x.includes(`missed ${auction} seq ${firstSeq}`)), 'a missed delivery is reported');
  t.ok(tampered.violations.some((x) => x.includes('is missing')), 'a lost acknowledged bid is reported');
  got.set(firstSeq, saved);
  acked.bidId = bidId;
});
