// What a LISTEN connection hears: one bid_placed per accepted bid in seq order, status changes, new auctions.
import t from 'tap';
import postgres from 'postgres';
import { connect } from '../../src/db/connect.ts';
import { parseAuctionNotification } from '../../src/realtime/notifications.ts';
import { freshDb } from '../helpers/db.ts';
import { bid, makeAuction, makeUser } from '../helpers/fixtures.ts';

type Note = Record<string, unknown> & { type: string };

const db = await freshDb(t);
const { sql } = db;
const listener = postgres(db.url, { max: 1, onnotice: () => {} });
t.teardown(() => listener.end());

/** Subscribes to channels and collects their events (a batch's bids arrive in one payload); `waitFor` gives up after a bounded time. */
async function hear(...channels: string[]) {
  const got = new Map<string, Note[]>(channels.map((c) => [c, []]));
  let wake = () => {};
  const unlisten: (() => Promise<void>)[] = [];
  for (const channel of channels) {
    const l = await listener.listen(channel, (payload) => {
      got.get(channel)!.push(...(parseAuctionNotification(payload) ?? []) as Note[]);
      wake();
    });
    unlisten.push(l.unlisten);
  }
  return {
    of: (channel: string) => got.get(channel)!,
    async waitFor(channel: string, count: number, ms = 5000) {
      const deadline = Date.now() + ms;
      while (got.get(channel)!.length < count) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`${channel}: ${got.get(channel)!.length} of ${count} notifications after ${ms} ms`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          wake = () => { clearTimeout(timer); resolve(); };
        });
      }
      return got.get(channel)!;
    },
    close: () => Promise.all(unlisten.map((u) => u())),
  };
}

t.test('one bid_placed per accepted bid, in seq order, with the full payload; none for rejected bids', async (t) => {
  const a = await makeAuction(sql, { startingPrice: '10.00', minIncrement: '0.50' });
  const users: string[] = [];
  for (let i = 0; i < 10; i++) users.push(await makeUser(sql, `b${i}`));
  const h = await hear(`auction:${a.id}`);
  t.teardown(h.close);

  const conns = Array.from({ length: 10 }, () => connect(db.url, { max: 1 }));
  t.teardown(() => Promise.all(conns.map((c) => c.close())));
  let accepted = 0;
  let rejected = 0;
  let seen = 10;
  await Promise.all(conns.map(async (c, w) => {
    for (let i = 0; i < 12; i++) {
      const r = await bid(c.sql, a.id, users[w], (seen + Math.random()).toFixed(2));
      if (r.current_price !== null) seen = Math.max(seen, Number(r.current_price));
      if (r.accepted) accepted++; else rejected++;
    }
  }));
  t.ok(rejected > 0, 'some bids were rejected');

  // a last accepted bid after everything: anything a rejected bid had sent would arrive before it
  const sentinel = await bid(sql, a.id, users[0], (seen + 100).toFixed(2));
  t.ok(sentinel.accepted);
  accepted++;
  const notes = await h.waitFor(`auction:${a.id}`, accepted + 1); // + auction_started from the first bid
  t.equal(notes[0].type, 'auction_started', 'the first bid starts the pending auction first');
  const placed = notes.slice(1);
  t.ok(placed.every((n) => n.type === 'bid_placed'), 'the rest are bid_placed');
  t.equal(placed.length, accepted, 'exactly one per accepted bid');
  t.same(placed.map((n) => n.seq), Array.from({ length: accepted }, (_, i) => i + 1), 'delivered in seq (commit) order');

  const bids = await sql`select id, seq, user_id, amount, created_at from auction.bids where auction_id = ${a.id} order by seq`;
  t.equal(bids.length, accepted);
  const mismatched = bids.filter((b, i) => {
    const n = placed[i];
    return n.auction_id !== a.id || n.bid_id !== b.id || n.user_id !== b.user_id || n.amount !== b.amount ||
      typeof n.amount !== 'string' || new Date(n.time as string).getTime() !== b.created_at.getTime();
  });
  t.same(mismatched, [], 'each payload carries auction_id, bid_id, user_id, amount (a string) and time of its bid');
  t.same(Object.keys(placed[0]).sort(), ['amount', 'auction_id', 'bid_id', 'buy_now_price', 'kind', 'min_next_bid', 'reserve_met', 'seq', 'time', 'type', 'user_id']);
  t.ok(placed.every((n) => n.kind === 'bid' && n.reserve_met === true), 'typed bids with no reserve');
});

t.test('a bid in a rolled-back transaction notifies nobody', async (t) => {
  const a = await makeAuction(sql);
  const u = await makeUser(sql);
  const first = await bid(sql, a.id, u, '10.00');
  t.ok(first.accepted);
  const h = await hear(`auction:${a.id}`);
  t.teardown(h.close);

  await t.rejects(sql.begin(async (tx) => {
    const r = await bid(tx as unknown as typeof sql, a.id, u, '20.00');
    if (!r.accepted) throw new Error('expected the bid inside the transaction to be accepted');
    throw new Error('roll back');
  }), { message: 'roll back' });
  t.match(await bid(sql, a.id, u, '5.00'), { accepted: false, reason: 'too_low' });

  const sentinel = await bid(sql, a.id, u, '15.00');
  t.match(sentinel, { accepted: true, seq: 2 }, 'the rolled-back seq is reused');
  const notes = await h.waitFor(`auction:${a.id}`, 1);
  t.same(notes.map((n) => [n.type, n.seq, n.amount]), [['bid_placed', 2, '15.00']], 'only the committed bid was heard');
});

t.test('status changes notify the auction channel; the end also notifies seller and winner', async (t) => {
  const seller = await makeUser(sql, 'seller');
  const winner = await makeUser(sql, 'winner');
  const other = await makeUser(sql, 'other');

  // start_auction_if_due: a no-op before start_time, auction_started once due
  const later = await makeAuction(sql, { seller, startsIn: 3600, endsIn: 7200 });
  const due = await makeAuction(sql, { seller, startsIn: -1 });
  const hl = await hear(`auction:${later.id}`, `auction:${due.id}`);
  t.teardown(hl.close);
  const [notYet] = await sql`select * from auction.start_auction_if_due(${later.id})`;
  t.equal(notYet.status, 'pending');
  const [started] = await sql`select * from auction.start_auction_if_due(${due.id})`;
  t.equal(started.status, 'active');
  const [again] = await sql`select * from auction.start_auction_if_due(${due.id})`;
  t.equal(again.status, 'active', 'idempotent');
  await sql`select auction.cancel_auction(${later.id}, 'withdrawn by seller')`;
  const [s] = await hl.waitFor(`auction:${due.id}`, 1);
  t.match(s, { type: 'auction_started', auction_id: due.id, status: 'active', seq: 0 });
  const lateNotes = await hl.waitFor(`auction:${later.id}`, 1);
  t.same(lateNotes.map((n) => n.type), ['auction_cancelled'], 'the early start_auction_if_due said nothing');
  t.match(lateNotes[0], { auction_id: later.id, status: 'cancelled', reason: 'withdrawn by seller', winner_id: null });

  // extend, then end with a winner
  const a = await makeAuction(sql, { seller });
  const h = await hear(`auction:${a.id}`, `user:${seller}`, `user:${winner}`, `user:${other}`);
  t.teardown(h.close);
  t.ok((await bid(sql, a.id, other, '10.00')).accepted);
  t.ok((await bid(sql, a.id, winner, '12.00')).accepted);
  const [ext] = await sql`select * from auction.extend_auction(${a.id}, (select end_time + interval '1 hour' from auction.auctions where id = ${a.id}))`;
  const [end] = await sql`select * from auction.end_auction(${a.id})`;
  const notes = await h.waitFor(`auction:${a.id}`, 5);
  t.same(notes.map((n) => n.type), ['auction_started', 'bid_placed', 'bid_placed', 'auction_extended', 'auction_ended']);
  t.match(notes[3], { auction_id: a.id, seq: 2 });
  t.equal(new Date(notes[3].end_time as string).getTime(), ext.end_time.getTime(), 'extended carries the new end_time');
  t.match(notes[4], { auction_id: a.id, status: 'ended', winner_id: winner, final_price: '12.00' });
  t.equal(end.winner_id, winner);
  const [toSeller] = await h.waitFor(`user:${seller}`, 1);
  const [toWinner] = await h.waitFor(`user:${winner}`, 1);
  t.same(toSeller, notes[4], 'the seller hears the end');
  t.same(toWinner, notes[4], 'the winner hears the end');

  // end_auction_if_due on an auction that ran out with no bids: ended, no winner, no final price
  const empty = await makeAuction(sql, { seller, startsIn: -10, endsIn: 0.3 });
  const he = await hear(`auction:${empty.id}`);
  t.teardown(he.close);
  const [before] = await sql`select * from auction.auctions where id = ${empty.id}`;
  await sql`select pg_sleep_until(${before.end_time}::timestamptz)`;
  const [done] = await sql`select * from auction.end_auction_if_due(${empty.id})`;
  t.equal(done.status, 'ended');
  const [s0, e] = await he.waitFor(`auction:${empty.id}`, 2);
  t.match(s0, { type: 'auction_started', status: 'active' }, 'it never started by its job: heard starting first');
  t.match(e, { type: 'auction_ended', winner_id: null, final_price: null });
  const sellerNotes = await h.waitFor(`user:${seller}`, 2);
  t.equal(sellerNotes[1].auction_id, empty.id, 'the seller hears a winnerless end too');
  t.same(h.of(`user:${other}`).map((n) => n.type), ['outbid'], 'an outbid user hears only that they were outbid, not the end');
});

t.test('a new auction notifies channel auctions', async (t) => {
  const h = await hear('auctions');
  t.teardown(h.close);
  const a = await makeAuction(sql, { startingPrice: '7.50', minIncrement: '0.25' });
  const [n] = await h.waitFor('auctions', 1);
  t.match(n, {
    type: 'auction_created', auction_id: a.id, item_id: a.itemId, creator_id: a.seller,
    starting_price: '7.50', min_increment: '0.25', status: 'pending',
  });
});

t.test('an auction ended straight from pending after its start time is heard starting first', async (t) => {
  // its start job never ran (late, or the end came first): subscribers still see started, then ended
  const a = await makeAuction(sql, { startsIn: -2, endsIn: 0.3 });
  const h = await hear(`auction:${a.id}`);
  t.teardown(h.close);
  await new Promise((r) => setTimeout(r, 400));
  const [row] = await sql`select * from auction.end_auction_if_due(${a.id})`;
  t.equal(row.status, 'ended');
  const notes = await h.waitFor(`auction:${a.id}`, 2);
  t.same(notes.map((n) => [n.type, n.status, n.seq]), [['auction_started', 'active', 0], ['auction_ended', 'ended', 0]]);
  // an auction cancelled before its start says only that
  const b = await makeAuction(sql, { startsIn: 3600, endsIn: 7200 });
  const hb = await hear(`auction:${b.id}`);
  t.teardown(hb.close);
  await sql`select auction.cancel_auction(${b.id}, 'withdrawn')`;
  t.same((await hb.waitFor(`auction:${b.id}`, 1)).map((n) => n.type), ['auction_cancelled']);
});

t.test("a batch's bids: one NOTIFY per auction, at most 16 bids and 8,000 bytes each, split back in seq order", async (t) => {
  const a = await makeAuction(sql, { startingPrice: '10.00', minIncrement: '0.01' });
  const b = await makeAuction(sql, { startingPrice: '10.00', minIncrement: '0.01' });
  const users = [await makeUser(sql, 'x'), await makeUser(sql, 'y')];
  const raw: string[] = [];
  const l = await listener.listen(`auction:${a.id}`, (p) => raw.push(p));
  t.teardown(() => l.unlisten());
  const h = await hear(`auction:${a.id}`, `auction:${b.id}`);
  t.teardown(h.close);

  // 40 rising bids on a, taking turns (each outbids the other), and one on b, in one transaction
  const n = 40;
  const ids = [...Array.from({ length: n }, () => a.id), b.id];
  const who = [...Array.from({ length: n }, (_, i) => users[i % 2]), users[0]];
  const amounts = [...Array.from({ length: n }, (_, i) => (11 + i).toFixed(2)), '10.00'];
  const out = await sql`select accepted from auction.place_bids(${ids}::uuid[], ${who}::uuid[], ${amounts}::numeric[],
    ${ids.map(() => null)}::text[])`;
  t.ok(out.every((r) => r.accepted), 'every bid accepted');

  const placed = (await h.waitFor(`auction:${a.id}`, n + 1)).filter((e) => e.type === 'bid_placed');
  t.same(placed.map((e) => e.seq), Array.from({ length: n }, (_, i) => i + 1), 'one bid_placed per bid, in seq order');
  t.same((await h.waitFor(`auction:${b.id}`, 2)).map((e) => e.type), ['auction_started', 'bid_placed'], 'the other auction hears its own');
  const batches = raw.map((p) => JSON.parse(p) as { type: string; bids?: unknown[] }).filter((e) => e.type === 'bids_placed');
  t.same(batches.map((e) => e.bids!.length), [15, 16, 9], 'split by seq into payloads of at most 16 bids (seqs 1-15, 16-31, 32-40)');
  t.ok(raw.every((p) => Buffer.byteLength(p) < 8000), 'each under the NOTIFY limit');
});
