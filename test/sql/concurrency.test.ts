// Many connections bid on one auction at once; afterwards the database must tell one consistent story.
import t from 'tap';
import { connect } from '../../src/db/connect.ts';
import { freshDb } from '../helpers/db.ts';
import { bid, makeAuction, makeUser } from '../helpers/fixtures.ts';

const CONNECTIONS = 24;
const BIDS_PER_CONNECTION = 15;

const db = await freshDb(t);
const { sql } = db;

t.test('24 connections bidding on one auction: strictly rising amounts, gapless seq, consistent row', async (t) => {
  const a = await makeAuction(sql, { startingPrice: '10.00', minIncrement: '0.50' });
  const users: string[] = [];
  for (let i = 0; i < 20; i++) users.push(await makeUser(sql, `bidder${i}`));

  const conns = Array.from({ length: CONNECTIONS }, () => connect(db.url, { max: 1, applicationName: 'concurrency-test' }));
  t.teardown(() => Promise.all(conns.map((c) => c.close())));
  // every connection holds an open session before anyone bids, so the bids really overlap
  await Promise.all(conns.map((c) => c.sql`select 1`));

  let accepted = 0;
  let rejected = 0;
  let seen = 10;
  const reasons = new Set<string>();
  await Promise.all(conns.map(async (c, w) => {
    for (let i = 0; i < BIDS_PER_CONNECTION; i++) {
      const user = users[(w + i * 7) % users.length];
      // increasing-ish: a little above the last price this client heard of, so many bids collide and lose
      const amount = (seen + 0.25 + Math.random() * 1.5).toFixed(2);
      const r = await bid(c.sql, a.id, user, amount);
      if (r.current_price !== null) seen = Math.max(seen, Number(r.current_price));
      if (r.accepted) accepted++;
      else { rejected++; reasons.add(r.reason ?? 'null'); }
    }
  }));

  t.ok(accepted > 0, `${accepted} accepted`);
  t.ok(rejected > 0, `${rejected} rejected: contention happened`);
  t.same([...reasons], ['too_low'], 'the only rejection under contention is too_low');

  const bids = await sql<{ seq: number; amount: string; user_id: string }[]>`
    select seq, amount, user_id from auction.bids where auction_id = ${a.id} order by seq`;
  t.equal(bids.length, accepted, 'accepted outcomes returned to callers = rows in bids');
  t.same(bids.map((b) => b.seq), Array.from({ length: bids.length }, (_, i) => i + 1), 'seq is 1..N with no gaps');

  let rising = true;
  for (let i = 1; i < bids.length; i++) {
    // amounts are numeric(12,2) strings: compare in cents
    const prev = Math.round(Number(bids[i - 1].amount) * 100);
    const cur = Math.round(Number(bids[i].amount) * 100);
    if (cur < prev + 50) rising = false;
  }
  t.ok(rising, 'each accepted amount is at least the previous plus min_increment');

  const [row] = await sql`select current_price, seq, high_bidder_id, status from auction.auctions where id = ${a.id}`;
  const last = bids[bids.length - 1];
  const [{ max }] = await sql`select max(amount) as max from auction.bids where auction_id = ${a.id}`;
  t.equal(row.seq, bids.length, 'auctions.seq = N');
  t.equal(row.current_price, max, 'current_price = the highest accepted bid');
  t.equal(row.current_price, last.amount, 'current_price = the bid at max seq');
  t.equal(row.high_bidder_id, last.user_id, 'high_bidder_id = the user of the bid at max seq');
  t.equal(row.status, 'active');
});

t.test('concurrent bids across an end_auction: nothing is accepted after the end', async (t) => {
  const a = await makeAuction(sql, { startingPrice: '1.00', minIncrement: '0.01' });
  const users: string[] = [];
  for (let i = 0; i < 8; i++) users.push(await makeUser(sql, `late${i}`));
  const conns = Array.from({ length: 8 }, () => connect(db.url, { max: 1 }));
  t.teardown(() => Promise.all(conns.map((c) => c.close())));

  let accepted = 0;
  let stop = false;
  const bidders = conns.map(async (c, w) => {
    let amount = 1 + w;
    while (!stop) {
      amount += 1;
      const r = await bid(c.sql, a.id, users[w], amount.toFixed(2));
      if (r.accepted) accepted++;
      else if (r.reason === 'ended') stop = true;
    }
  });
  // end it once bidding is under way
  while (accepted < 20) await new Promise((r) => setImmediate(r));
  const [ended] = await sql`select * from auction.end_auction(${a.id})`;
  await Promise.all(bidders);

  const bids = await sql`select seq, user_id, amount, created_at from auction.bids where auction_id = ${a.id} order by seq`;
  t.equal(bids.length, accepted, 'every accepted outcome is a stored bid');
  t.equal(ended.seq, bids.length, 'no bid landed after the end');
  t.equal(ended.winner_id, bids[bids.length - 1].user_id, 'the winner is the high bidder at the end');
  t.ok(bids.every((b) => b.created_at < ended.end_time), 'all bids are before end_time');
});

t.test('a bid that queued behind a lock-only holder past end_time is rejected as ended', async (t) => {
  // SELECT ... FOR UPDATE (as end_auction_if_due does when not yet due) only locks the row. A bid's UPDATE that
  // waits on it is not re-checked by EvalPlanQual, so its WHERE saw the clock from before the wait;
  // auctions_before_update_guard checks end_time again once the lock is granted.
  const a = await makeAuction(sql, { startsIn: -10, endsIn: 1 });
  const u = await makeUser(sql);
  const locker = connect(db.url, { max: 1 });
  const bidder = connect(db.url, { max: 1 });
  t.teardown(() => Promise.all([locker.close(), bidder.close()]));
  const [{ pid }] = await bidder.sql`select pg_backend_pid() as pid`;

  let outcome: Awaited<ReturnType<typeof bid>> | undefined;
  let pending: Promise<void> | undefined;
  await locker.sql.begin(async (tx) => {
    const [row] = await tx`select end_time from auction.auctions where id = ${a.id} for update`;
    pending = bid(bidder.sql, a.id, u, '10.00').then((r) => { outcome = r; });
    // wait (bounded) until the bid is blocked on our row lock, then let its time run out
    for (let i = 0; ; i++) {
      const [w] = await sql`select wait_event_type from pg_stat_activity where pid = ${pid}`;
      if (w?.wait_event_type === 'Lock') break;
      if (i > 500) throw new Error('the bid never waited on the row lock');
      await new Promise((r) => setTimeout(r, 5));
    }
    t.ok(new Date() < row.end_time, 'the bid started waiting before end_time');
    await tx`select pg_sleep_until(${row.end_time}::timestamptz + interval '10 milliseconds')`;
    t.equal(outcome, undefined, 'still waiting at end_time');
  });
  await pending; // the locker committed, so the bid gets its answer
  t.match(outcome, { accepted: false, reason: 'ended' });
  const [row] = await sql`select seq, last_bid_at, high_bidder_id from auction.auctions where id = ${a.id}`;
  t.same(row, { seq: 0, last_bid_at: null, high_bidder_id: null }, 'nothing was written');
});

t.test('one request_id sent on 10 connections at once is one bid; the copies get its outcome', async (t) => {
  const a = await makeAuction(sql);
  const u = await makeUser(sql);
  const conns = Array.from({ length: 10 }, () => connect(db.url, { max: 1 }));
  t.teardown(() => Promise.all(conns.map((c) => c.close())));
  await Promise.all(conns.map((c) => c.sql`select 1`));
  const outcomes = await Promise.all(conns.map((c) => bid(c.sql, a.id, u, '25.00', 'retry-me')));
  const firsts = outcomes.filter((o) => o.accepted && !o.duplicate);
  t.equal(firsts.length, 1, 'one accepted original');
  t.ok(outcomes.every((o) => o.accepted && o.bid_id === firsts[0].bid_id && o.seq === 1), 'every copy reports that bid');
  const [{ n }] = await sql`select count(*)::int as n from auction.bids where auction_id = ${a.id}`;
  t.equal(n, 1, 'one row in bids');
  t.match(await bid(sql, a.id, u, '30.00', 'retry-me'), { accepted: false, reason: 'request_id_conflict', bid_id: firsts[0].bid_id });
});

t.test('in one batch, an auction that closed before the write keeps nothing while the others keep their bids', async (t) => {
  // place_bids locks and judges auctions in id order, then writes them all with one guarded UPDATE: hold the
  // later auction's lock past the earlier one's end_time, and only the earlier one's bids become 'ended'.
  // a fresh pair per try, each in the right order half the time (a closing id near the top would defeat retrying
  // only the open one); uuids order as their text does
  let closing, open;
  for (let i = 0; ; i++) {
    if (i > 50) throw new Error('no pair with the closing auction first');
    closing = await makeAuction(sql, { startsIn: -10, endsIn: 2 });
    open = await makeAuction(sql, { startsIn: -10, endsIn: 3600 });
    if (closing.id < open.id) break;
  }
  const [u1, u2] = [await makeUser(sql), await makeUser(sql)];
  const locker = connect(db.url, { max: 1 });
  const bidder = connect(db.url, { max: 1 });
  t.teardown(() => Promise.all([locker.close(), bidder.close()]));
  const [{ pid }] = await bidder.sql`select pg_backend_pid() as pid`;

  let rows: { ord: number; accepted: boolean; reason: string | null; seq: number | null; current_price: string }[] = [];
  let pending: Promise<void> | undefined;
  await locker.sql.begin(async (tx) => {
    await tx`select 1 from auction.auctions where id = ${open.id} for update`;
    const [{ end_time: end }] = await tx`select end_time from auction.auctions where id = ${closing.id}`;
    pending = bidder.sql`select * from auction.place_bids(${[closing.id, open.id, closing.id]}::uuid[], ${[u1, u1, u2]}::uuid[],
                           ${['10.00', '10.00', '11.00']}::numeric[], ${['c1', 'o1', 'c2']}::text[]) order by ord`
      .then((r) => { rows = r as unknown as typeof rows; });
    for (let i = 0; ; i++) {
      const [w] = await sql`select wait_event_type from pg_stat_activity where pid = ${pid}`;
      if (w?.wait_event_type === 'Lock') break;
      if (i > 500) throw new Error('the batch never waited on the row lock');
      await new Promise((r) => setTimeout(r, 5));
    }
    t.ok(new Date() < end, 'the earlier auction was judged before its end_time');
    await tx`select pg_sleep_until(${end}::timestamptz + interval '10 milliseconds')`;
  });
  await pending;
  t.match(rows, [
    { ord: 1, accepted: false, reason: 'ended', seq: null, current_price: '10.00' },
    { ord: 2, accepted: true, reason: null, seq: 1 },
    { ord: 3, accepted: false, reason: 'ended', seq: null, current_price: '10.00' },
  ]);
  const state = await sql`select id, seq, high_bidder_id, last_bid_at is not null as bid from auction.auctions where id in (${closing.id}, ${open.id})`;
  t.same(Object.fromEntries(state.map((s) => [s.id, [Number(s.seq), s.high_bidder_id, s.bid]])),
    { [closing.id]: [0, null, false], [open.id]: [1, u1, true] }, 'only the open auction was written');
  const [{ n }] = await sql`select count(*)::int as n from auction.bids where auction_id = ${closing.id}`;
  t.equal(n, 0, 'no bid row for the closed auction');
});
