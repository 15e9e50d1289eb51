// The rules beyond the original design, straight against SQL: increments, proxy bids, soft close,
// reserve and buy-now prices, outbid alerts (docs/bidding-rules.md).
import t from 'tap';
import postgres from 'postgres';
import { connect } from '../../src/db/connect.ts';
import { toClientError } from '../../src/db/errors.ts';
import { parseAuctionNotification } from '../../src/realtime/notifications.ts';
import { freshDb } from '../helpers/db.ts';
import { bid, makeAuction, makeUser, proxyBid, type Outcome } from '../helpers/fixtures.ts';

const db = await freshDb(t);
const { sql } = db;
const listener = postgres(db.url, { max: 1, onnotice: () => {} });
t.teardown(() => listener.end());

type Note = Record<string, unknown> & { type: string };

/** Collects the events of one channel (a batch's bids arrive in one payload). */
async function hear(channel: string) {
  const got: Note[] = [];
  const l = await listener.listen(channel, (p) => got.push(...(parseAuctionNotification(p) ?? []) as Note[]));
  return { got, close: () => l.unlisten(), settle: () => new Promise((r) => setTimeout(r, 200)) };
}

const history = async (id: string) =>
  (await sql`select seq::int, user_id, amount, kind, max_amount from auction.bids where auction_id = ${id} order by seq`)
    .map((b) => ({ seq: b.seq, user_id: b.user_id, amount: b.amount, kind: b.kind }));
/** Sleeps until `at` and bids in the same statement, so no round trip falls between them (the lateral reference orders them). */
async function bidAt(at: Date | string, id: string, user: string, amount: string) {
  const [r] = await sql`
    select b.* from pg_sleep_until(${at}::timestamptz) s
     cross join lateral auction.place_bid(${id}, ${user}, ${amount}::numeric, nullif(s::text, s::text)) b`;
  return r as Outcome;
}
const row = async (id: string) => (await sql`select * from auction.auction_facts where id = ${id}`)[0];

t.test('increments: eBay steps by default, a table of your own, or a fixed step', async (t) => {
  const steps: [string, string][] = [['0.50', '0.05'], ['1.00', '0.25'], ['4.99', '0.25'], ['5.00', '0.50'], ['24.99', '0.50'],
    ['25.00', '1.00'], ['99.99', '1.00'], ['100.00', '2.50'], ['249.99', '2.50'], ['250.00', '5.00'], ['500.00', '10.00'],
    ['1000.00', '25.00'], ['2500.00', '50.00'], ['5000.00', '100.00'], ['99999.00', '100.00']];
  for (const [price, step] of steps) {
    const [{ inc }] = await sql`select auction.increment_at(auction.increments_of(null, auction.default_increment_table()), ${price}::numeric) as inc`;
    t.equal(inc, step, `at ${price} the step is ${step}`);
  }

  const seller = await makeUser(sql);
  const a = await makeAuction(sql, { seller, startingPrice: '10.00', minIncrement: null });
  const u = await makeUser(sql);
  const v = await makeUser(sql);
  t.match(await row(a.id), { min_increment: null, min_next_bid: '10.00' });
  t.match(await bid(sql, a.id, u, '10.00'), { accepted: true, min_amount: '10.50' }, 'the first bid may equal the starting price');
  t.match(await bid(sql, a.id, v, '10.49'), { accepted: false, reason: 'too_low', min_amount: '10.50' });
  t.match(await bid(sql, a.id, v, '99.50'), { accepted: true, min_amount: '100.50' }, 'under 100 the step is 1');
  t.match(await bid(sql, a.id, u, '100.50'), { accepted: true, min_amount: '103.00' }, 'from 100 the step is 2.50');

  const own = await makeAuction(sql, { seller, minIncrement: null, startingPrice: '1.00',
    incrementTable: [{ below: 10, step: 1 }, { step: 5 }] });
  t.match(await bid(sql, own.id, u, '9.00'), { accepted: true, min_amount: '10.00' });
  t.match(await bid(sql, own.id, v, '10.00'), { accepted: true, min_amount: '15.00' });

  for (const bad of [[], [{ step: 1 }, { step: 2 }], [{ below: 5, step: 1 }], [{ below: 5, step: 1 }, { below: 4, step: 1 }, { step: 1 }],
    [{ step: 0 }], [{ step: 0.001 }], [{ step: 1, extra: 1 }], [{ below: '5', step: 1 }, { step: 1 }]]) {
    await t.rejects(makeAuction(sql, { seller, minIncrement: null, incrementTable: bad as { step: number }[] }), { code: 'AU014' },
      `refused: ${JSON.stringify(bad)}`);
  }
  await t.rejects(makeAuction(sql, { seller, minIncrement: '1.00', incrementTable: [{ step: 1 }] }), { code: 'AU014' }, 'not both');
  const open = await makeAuction(sql, { seller, minIncrement: null });
  await t.rejects(sql`update auction.auctions set min_increment = 1 where id = ${open.id}`, { code: '23514' },
    'psql cannot give an auction two increment rules');
  await t.rejects(sql`update auction.auctions set increment_table = '[{"step": -1}]' where id = ${open.id}`, { code: '23514' },
    'nor a broken table');
  await t.rejects(sql`update auction.auctions set increment_table = '[{"step": 9}]' where id = ${own.id}`, { code: 'AU002' },
    'nor change it once bidding started');
});

t.test('proxy bids: the system bids for you by the increment up to your maximum', async (t) => {
  const a = await makeAuction(sql, { startingPrice: '10.00', minIncrement: '1.00' });
  const [ann, bob, cy, dee, eve] = await Promise.all(['ann', 'bob', 'cy', 'dee', 'eve'].map((n) => makeUser(sql, n)));
  const annHears = await hear(`user:${ann}`);
  const bobHears = await hear(`user:${bob}`);
  t.teardown(() => Promise.all([annHears.close(), bobHears.close()]));

  t.match(await proxyBid(sql, a.id, ann, '50.00'), { accepted: true, is_leading: true, amount: '10.00', current_price: '10.00', max_amount: '50.00' },
    'a first proxy bid opens at the starting price');
  t.match(await bid(sql, a.id, bob, '20.00'), { accepted: true, is_leading: false, amount: '20.00', current_price: '21.00' },
    "a typed bid under ann's maximum is placed, and ann's proxy answers one increment above");
  t.match(await proxyBid(sql, a.id, cy, '40.00'), { accepted: true, is_leading: false, amount: '40.00', current_price: '41.00' });
  t.match(await proxyBid(sql, a.id, dee, '60.00'), { accepted: true, is_leading: true, amount: '51.00', current_price: '51.00' },
    "a higher maximum takes the lead at one increment above ann's maximum");
  t.match(await proxyBid(sql, a.id, eve, '60.00'), { accepted: true, is_leading: false, amount: '60.00', current_price: '60.00' },
    'equal maxima: the earlier one leads, at that maximum');
  t.same(await history(a.id), [
    { seq: 1, user_id: ann, amount: '10.00', kind: 'proxy' },
    { seq: 2, user_id: bob, amount: '20.00', kind: 'bid' },
    { seq: 3, user_id: ann, amount: '21.00', kind: 'proxy' },
    { seq: 4, user_id: cy, amount: '40.00', kind: 'proxy' },
    { seq: 5, user_id: ann, amount: '41.00', kind: 'proxy' },
    { seq: 6, user_id: ann, amount: '50.00', kind: 'proxy' },
    { seq: 7, user_id: dee, amount: '51.00', kind: 'proxy' },
    { seq: 8, user_id: eve, amount: '60.00', kind: 'proxy' },
    { seq: 9, user_id: dee, amount: '60.00', kind: 'proxy' },
  ]);
  t.match(await row(a.id), { high_bidder_id: dee, current_price: '60.00', leader_max: '60.00', seq: 9, min_next_bid: '61.00' });

  // the leader raises their maximum: nothing visible changes
  t.match(await proxyBid(sql, a.id, dee, '100.00', 'raise'), { accepted: true, is_leading: true, bid_id: null, seq: 9, current_price: '60.00' });
  t.match(await proxyBid(sql, a.id, dee, '100.00', 'raise'), { accepted: true, is_leading: true }, 'a retried raise is still accepted');
  t.match(await proxyBid(sql, a.id, dee, '70.00'), { accepted: false, reason: 'max_not_raised' }, 'a maximum never goes down');
  t.match(await row(a.id), { seq: 9, leader_max: '100.00', current_price: '60.00' });
  t.match(await bid(sql, a.id, bob, '61.00'), { accepted: true, is_leading: false, current_price: '62.00' });

  // retries by request id
  const first = await proxyBid(sql, a.id, cy, '200.00', 'cy-1');
  t.match(first, { accepted: true, is_leading: true, amount: '101.00' }, "one increment over dee's maximum of 100");
  t.match(await proxyBid(sql, a.id, cy, '200.00', 'cy-1'), { accepted: true, duplicate: true, bid_id: first.bid_id, seq: first.seq });
  t.match(await proxyBid(sql, a.id, cy, '300.00', 'cy-1'), { accepted: false, reason: 'request_id_conflict', bid_id: first.bid_id });

  // bad input
  t.match(await proxyBid(sql, a.id, eve, '5.00', null, '10.00'), { accepted: false, reason: 'invalid_max_amount' });
  t.match(await proxyBid(sql, a.id, eve, '1.001'), { accepted: false, reason: 'invalid_amount' });
  t.match(await bid(sql, a.id, eve, null), { accepted: false, reason: 'invalid_amount' });
  t.match(await proxyBid(sql, a.id, eve, '101.50'), { accepted: false, reason: 'too_low', min_amount: '102.00' });

  await annHears.settle();
  t.same(annHears.got.map((n) => [n.type, n.seq, n.current_price]), [['outbid', 7, '51.00']],
    'ann hears once, when dee took the lead from her; never while her proxy held');
  t.same(bobHears.got, [], 'bob never led, so he is never outbid');
});

t.test('bid_placed never carries a maximum', async (t) => {
  const a = await makeAuction(sql);
  const h = await hear(`auction:${a.id}`);
  t.teardown(h.close);
  await proxyBid(sql, a.id, await makeUser(sql), '900.00');
  await proxyBid(sql, a.id, await makeUser(sql), '500.00');
  await h.settle();
  const placed = h.got.filter((n) => n.type === 'bid_placed');
  t.equal(placed.length, 3);
  // every value of every payload, so that a uuid or timestamp that happens to hold "900" cannot fail the check
  const values = h.got.flatMap((n) => Object.values(n).map(String));
  t.notOk(values.some((v) => /^900(\.0+)?$/.test(v)), 'the leader maximum stays hidden');
  t.same(placed.map((n) => n.amount), ['10.00', '500.00', '501.00'], 'the leader pays one increment over the runner-up');
  t.same(placed.map((n) => n.kind), ['proxy', 'proxy', 'proxy']);
});

t.test('proxy races: concurrent maxima settle as if they came one by one', async (t) => {
  for (let round = 0; round < 6; round++) {
    const a = await makeAuction(sql, { startingPrice: '1.00', minIncrement: null });
    const users = await Promise.all(Array.from({ length: 8 }, (_, i) => makeUser(sql, `p${i}`)));
    // a tie on the top maximum in even rounds
    const maxima = users.map((_, i) => (round % 2 === 0 && i < 2 ? '80.00' : (10 + Math.floor(Math.random() * 7000) / 100).toFixed(2)));
    const conns = users.map(() => connect(db.url, { max: 1 }));
    const outcomes: Outcome[] = await Promise.all(users.map((u, i) => proxyBid(conns[i].sql, a.id, u, maxima[i])));
    await Promise.all(conns.map((c) => c.close()));
    const accepted = users.map((u, i) => ({ u, max: Number(maxima[i]), o: outcomes[i] })).filter((x) => x.o.accepted);
    const final = await row(a.id);
    const hist = await sql`select seq::int, user_id, amount::numeric::float8 as amount from auction.bids where auction_id = ${a.id} order by seq`;
    const top = Math.max(...accepted.map((x) => x.max));
    const leaders = accepted.filter((x) => x.max === top);
    // among equal top maxima, the one whose own bid came first leads
    const firstTop = leaders.sort((x, y) => x.o.seq! - y.o.seq!)[0];
    t.equal(final.high_bidder_id, firstTop.u, `round ${round}: the highest maximum leads (earliest on a tie)`);
    const others = accepted.filter((x) => x.u !== firstTop.u).map((x) => x.max);
    const second = others.length ? Math.max(...others) : undefined;
    const [{ inc }] = second === undefined ? [{ inc: '0' }]
      : await sql`select auction.increment_at(auction.increments_of(null, auction.default_increment_table()), ${second}::numeric) as inc`;
    const expected = second === undefined ? 1 : Math.min(top, Math.round((second + Number(inc)) * 100) / 100);
    t.equal(Number(final.current_price), expected, `round ${round}: price = min(top maximum, runner-up + increment)`);
    t.ok(hist.every((b, i) => i === 0 || b.amount >= hist[i - 1].amount), 'the bid history never goes down');
    t.equal(hist.at(-1)!.user_id, final.high_bidder_id, 'the last stored bid is the leader at the price');
    t.equal(hist.length, final.seq, 'one row per seq');
  }
});

t.test('soft close: a bid in the last N seconds extends the end by N; rejected bids never do', async (t) => {
  const a = await makeAuction(sql, { endsIn: 3, softCloseSeconds: 2 });
  const u = await makeUser(sql);
  const v = await makeUser(sql);
  const h = await hear(`auction:${a.id}`);
  t.teardown(h.close);
  const before = (await row(a.id)).end_time as Date;
  t.match(await bid(sql, a.id, u, '10.00'), { accepted: true }, 'three seconds left: outside the window');
  t.equal(((await row(a.id)).end_time as Date).getTime(), before.getTime(), 'no extension');

  await sql`select pg_sleep_until(${before}::timestamptz - interval '1 second')`;
  t.match(await bid(sql, a.id, v, '10.50'), { accepted: false, reason: 'too_low' });
  t.equal(((await row(a.id)).end_time as Date).getTime(), before.getTime(), 'a rejected bid does not extend');
  const r = await bid(sql, a.id, v, '11.00');
  t.equal(r.end_time!.getTime(), before.getTime() + 2000, 'an accepted bid a second before the end extends it by 2 s');

  // at the boundary: just before the (new) end extends again; at or after it nothing is accepted
  const end2 = r.end_time!;
  const late = await bidAt(new Date(end2.getTime() - 250), a.id, u, '12.00');
  t.match(late, { accepted: true, reason: null }, 'a bid 250 ms before the end is accepted (margin for a loaded machine)');
  t.equal(late.end_time!.getTime(), end2.getTime() + 2000, 'and extends');
  // (JS dates are whole milliseconds; the database keeps microseconds: 1 ms later is at or after the end)
  t.match(await bidAt(new Date(late.end_time!.getTime() + 1), a.id, v, '13.00'), { accepted: false, reason: 'ended' }, 'at the end: too late');
  t.equal(((await row(a.id)).end_time as Date).getTime(), late.end_time!.getTime(), 'a late bid does not extend');

  await h.settle();
  const ext = h.got.filter((n) => n.type === 'auction_extended');
  t.equal(ext.length, 2);
  t.match(ext[0], { reason: 'soft_close', seq: 1 });
  t.equal(new Date(ext[0].previous_end_time as string).getTime(), before.getTime());
  t.equal(new Date(ext[0].end_time as string).getTime(), before.getTime() + 2000);
});

t.test('reserve price: hidden, public when met, no winner when unmet', async (t) => {
  const seller = await makeUser(sql);
  const [u, v, w] = await Promise.all([makeUser(sql), makeUser(sql), makeUser(sql)]);
  const a = await makeAuction(sql, { seller, startingPrice: '10.00', reservePrice: '100.00', endsIn: 2 });
  t.match(await bid(sql, a.id, u, '50.00'), { accepted: true, reserve_met: false });
  t.match(await proxyBid(sql, a.id, v, '80.00'), { accepted: true, is_leading: true, amount: '51.00', reserve_met: false });
  t.match(await proxyBid(sql, a.id, w, '150.00'), { accepted: true, is_leading: true, amount: '100.00', reserve_met: true },
    'a maximum over the reserve takes the price straight to the reserve');
  t.match(await row(a.id), { current_price: '100.00', reserve_met: true, high_bidder_id: w });

  const b = await makeAuction(sql, { seller, startingPrice: '10.00', reservePrice: '100.00', endsIn: 1 });
  await proxyBid(sql, b.id, u, '60.00');
  t.match(await proxyBid(sql, b.id, u, '120.00'), { accepted: true, amount: '100.00', reserve_met: true },
    'the leader raising their maximum over the reserve also meets it');
  const c = await makeAuction(sql, { seller, startingPrice: '10.00', reservePrice: '100.00', endsIn: 0.5 });
  await bid(sql, c.id, u, '99.00');
  const h = await hear(`auction:${c.id}`);
  t.teardown(h.close);
  await sql`select pg_sleep_until((select end_time from auction.auctions where id = ${c.id}))`;
  const [ended] = await sql`select * from auction.end_auction_if_due(${c.id})`;
  t.match(ended, { status: 'ended', winner_id: null, high_bidder_id: u });
  await h.settle();
  t.match(h.got.at(-1), { type: 'auction_ended', winner_id: null, reserve_met: false, final_price: '99.00' });
  await t.rejects(sql`insert into auction.auctions (item_id, creator_id, start_time, end_time, starting_price, reserve_price)
    values (${a.itemId}, ${seller}, now(), now() + interval '1 hour', 10, 5)`, { code: '23514' }, 'a reserve under the start is refused, even in psql');
});

t.test('buy-now: ends the auction at once; gone once bidding passes the reserve', async (t) => {
  const seller = await makeUser(sql);
  const [u, v] = await Promise.all([makeUser(sql), makeUser(sql)]);
  const a = await makeAuction(sql, { seller, buyNowPrice: '200.00' });
  const h = await hear(`auction:${a.id}`);
  t.teardown(h.close);
  t.match(await row(a.id), { buy_now_available: true });
  await t.rejects(sql`select * from auction.buy_now(${a.id}, ${seller})`, { code: 'AU015' }, 'not the seller');
  const [r] = await sql`select * from auction.buy_now(${a.id}, ${u}, 'buy-1')`;
  t.match(r, { accepted: true, amount: '200.00', is_leading: true });
  const [stored] = await sql`select end_time, end_time - last_bid_at = interval '1 microsecond' as just_after
                                from auction.auctions where id = ${a.id}`;
  t.ok(stored.end_time < new Date(a.end_time), 'the end moves back to the buy-now');
  t.ok(stored.just_after, 'to the instant after its bid');
  t.same(r.end_time, stored.end_time, 'the outcome says when it ended');
  t.match(await row(a.id), { status: 'ended', winner_id: u, current_price: '200.00', end_reason: 'buy_now', buy_now_available: false });
  const [again] = await sql`select * from auction.buy_now(${a.id}, ${u}, 'buy-1')`;
  t.match(again, { accepted: true, duplicate: true, bid_id: r.bid_id }, 'a retry returns the first outcome');
  await t.rejects(sql`select * from auction.buy_now(${a.id}, ${v})`, { code: 'AU011' }, 'too late for anyone else');
  t.match(await bid(sql, a.id, v, '300.00'), { accepted: false, reason: 'ended' });
  await h.settle();
  t.same(h.got.map((n) => n.type), ['bid_placed', 'auction_ended'], 'the buy-now bid, then the end');
  t.match(h.got[0], { kind: 'buy_now', amount: '200.00' });
  t.match(h.got[1], { winner_id: u, final_price: '200.00', reason: 'buy_now', reserve_met: true });
  t.equal(new Date(h.got[1].end_time as string).getTime(), stored.end_time.getTime(), 'auction_ended carries the new end');

  const plain = await makeAuction(sql, { seller, buyNowPrice: '200.00' });
  await bid(sql, plain.id, u, '10.00');
  t.match(toClientError(await sql`select * from auction.buy_now(${plain.id}, ${v})`.catch((e: unknown) => e)),
    { code: 'buy_now_unavailable', status: 409 }, 'without a reserve, the first bid removes buy-now');

  const reserved = await makeAuction(sql, { seller, reservePrice: '100.00', buyNowPrice: '150.00' });
  const uHears = await hear(`user:${u}`);
  t.teardown(uHears.close);
  await bid(sql, reserved.id, u, '50.00');
  t.match(await row(reserved.id), { buy_now_available: true }, 'under the reserve buy-now stays');
  const [bought] = await sql`select * from auction.buy_now(${reserved.id}, ${v})`;
  t.match(bought, { accepted: true, amount: '150.00' });
  await uHears.settle();
  t.match(uHears.got, [{ type: 'outbid', auction_id: reserved.id, current_price: '150.00' }], 'the leader hears they were outbid');

  const met = await makeAuction(sql, { seller, reservePrice: '100.00', buyNowPrice: '150.00' });
  await bid(sql, met.id, u, '100.00');
  t.match(await row(met.id), { buy_now_available: false, reserve_met: true }, 'once the reserve is met, buy-now is gone');
  await t.rejects(sql`select * from auction.buy_now(${met.id}, ${v})`, { code: 'AU015' });
});

t.test('copies of one request inside one batch: one bid, the copy reports it, a changed copy conflicts', async (t) => {
  const a = await makeAuction(sql, { minIncrement: '1.00' });
  const [u, v] = await Promise.all([makeUser(sql), makeUser(sql)]);
  const rows = await sql`select * from auction.place_bids(
    ${[a.id, a.id, a.id, a.id]}::uuid[], ${[u, u, u, v]}::uuid[], ${['10.00', '10.00', '11.00', '12.00']}::numeric[],
    ${['r1', 'r1', 'r1', 'r1']}::text[]) order by ord`;
  t.match(rows[0], { accepted: true, duplicate: false, seq: 1 });
  t.match(rows[1], { accepted: true, duplicate: true, seq: 1, bid_id: rows[0].bid_id }, 'the copy reports the first');
  t.match(rows[2], { accepted: false, reason: 'request_id_conflict', bid_id: rows[0].bid_id });
  t.match(rows[3], { accepted: true, seq: 2 }, "request ids are per user: v's r1 is its own");
  t.equal((await history(a.id)).length, 2);
});

t.test('the largest amount: every bid a client may send is accepted or refused with a reason, never an overflow', async (t) => {
  const top = '9999999999.99';
  const [u, v, w] = await Promise.all([makeUser(sql), makeUser(sql), makeUser(sql)]);

  const open = await makeAuction(sql, { minIncrement: '100' });
  t.match(await bid(sql, open.id, u, top), { accepted: true, amount: top, current_price: top, min_amount: top },
    'a first bid at the largest amount');
  t.match(await bid(sql, open.id, v, top), { accepted: false, reason: 'price_limit', current_price: top },
    'nothing goes above it');
  t.match(await proxyBid(sql, open.id, v, top), { accepted: false, reason: 'price_limit' }, 'a proxy bid neither');
  t.match(await bid(sql, open.id, u, top), { accepted: false, reason: 'price_limit' }, 'the leader neither');

  const priciest = await makeAuction(sql, { startingPrice: top, minIncrement: '100' });
  t.match(await row(priciest.id), { min_next_bid: top });
  t.match(await bid(sql, priciest.id, u, top), { accepted: true, current_price: top, min_amount: top },
    'an auction starting at the largest amount takes its first bid');
  t.match(await bid(sql, priciest.id, v, top), { accepted: false, reason: 'price_limit' });

  const near = await makeAuction(sql, { minIncrement: '100' });
  t.match(await bid(sql, near.id, u, '9999999000'), { accepted: true, min_amount: '9999999100.00' });
  t.match(await bid(sql, near.id, v, '9999999950'), { accepted: true, current_price: '9999999950.00', min_amount: top },
    'near the top the next minimum stops at the largest amount');
  t.match(await row(near.id), { min_next_bid: top });
  t.match(await bid(sql, near.id, w, '9999999999.98'), { accepted: false, reason: 'too_low', min_amount: top });
  t.match(await bid(sql, near.id, w, top), { accepted: true, current_price: top });
  t.match(await bid(sql, near.id, u, top), { accepted: false, reason: 'price_limit' });

  const proxies = await makeAuction(sql, { minIncrement: '100' });
  t.match(await proxyBid(sql, proxies.id, u, top), { accepted: true, current_price: '10.00' });
  t.match(await proxyBid(sql, proxies.id, v, '9999999950'), { accepted: true, is_leading: false, current_price: top },
    'the leader answers one increment up, at most the largest amount');
  t.match(await proxyBid(sql, proxies.id, w, top), { accepted: false, reason: 'price_limit' });
  t.match(await row(proxies.id), { current_price: top, high_bidder_id: u, min_next_bid: top });
});
