// The bidding rules (sql/functions/rules.sql) called directly on literal auctions: no table, no lock, no clock.
import t from 'tap';
import type { PendingQuery, Row } from 'postgres';
import { freshDb } from '../helpers/db.ts';

const { sql } = await freshDb(t, { max: 2 });

const SELLER = '00000000-0000-4000-8000-00000000000a';
const LEADER = '00000000-0000-4000-8000-00000000000b';
const CHALLENGER = '00000000-0000-4000-8000-00000000000c';
const AT = '2030-01-01T12:00:00Z';

/** An auction row from a few columns: an active auction at 10.00 with a fixed increment of 1, and no bid. */
const auction = (o: Record<string, unknown> = {}) => sql`jsonb_populate_record(null::auction.auctions, ${sql.json({
  id: '00000000-0000-4000-8000-0000000000a1', creator_id: SELLER, status: 'active', start_time: '2030-01-01T11:00:00Z',
  end_time: '2030-01-01T13:00:00Z', starting_price: 10, current_price: 10, min_increment: 1, seq: 0, soft_close_seconds: 0,
  ...o,
})})`;
/** Led by LEADER at `price` with maximum `max`, after `seq` bids. */
const led = (price: number, max: number, o: Record<string, unknown> = {}) =>
  auction({ seq: 3, current_price: price, high_bidder_id: LEADER, leader_max: max, ...o });

const one = async <T = Row>(q: PendingQuery<Row[]>) => (await q)[0] as T;
const num = (x: number | null) => (x === null ? null : x.toFixed(2));

t.test('malformed_bid: amounts, maximum, request id', async (t) => {
  const why = async (amount: string | null, max: string | null, rid: string | null = null) =>
    (await one(sql`select auction.malformed_bid(${amount}::numeric, ${max}::numeric, ${rid}) as r`)).r;
  t.equal(await why('10.00', null), null);
  t.equal(await why(null, '20.00'), null);
  t.equal(await why('10.00', '20.00', 'x'), null);
  for (const bad of ['0', '-1', '10.001', '10000000000']) {
    t.equal(await why(bad, null), 'invalid_amount', `amount ${bad}`);
    t.equal(await why(null, bad), 'invalid_amount', `maximum ${bad}`);
  }
  t.equal(await why(null, null), 'invalid_amount', 'neither');
  t.equal(await why('20.00', '10.00'), 'invalid_max_amount', 'a maximum below the amount');
  t.equal(await why('10.00', null, ''), 'invalid_request_id');
  t.equal(await why('10.00', null, 'x'.repeat(129)), 'invalid_request_id');
});

t.test('closed_reason: cancelled, ended (by status or by time), not started, open', async (t) => {
  const why = async (o: Record<string, unknown>, at = AT) =>
    (await one(sql`select auction.closed_reason(${auction(o)}, ${at}::timestamptz) as r`)).r;
  t.equal(await why({}), null, 'open');
  t.equal(await why({ status: 'pending' }), null, 'pending after its start time: open');
  t.equal(await why({ status: 'cancelled' }), 'cancelled');
  t.equal(await why({ status: 'ended' }), 'ended');
  t.equal(await why({}, '2030-01-01T13:00:00Z'), 'ended', 'at end_time, before the end job ran');
  t.equal(await why({}, '2030-01-01T12:59:59.999999Z'), null, 'a microsecond before');
  t.equal(await why({ status: 'pending' }, '2030-01-01T10:59:59Z'), 'not_started');
});

t.test('increments and the next minimum', async (t) => {
  const next = async (o: Record<string, unknown>) => (await one(sql`
    select auction.next_minimum(s.a, auction.increments_of((s.a).min_increment, (s.a).increment_table)) as m from (select ${auction(o)} as a) s`)).m;
  t.equal(await next({}), '10.00', 'the first bid may be the starting price');
  t.equal(await next({ seq: 1, current_price: 12 }), '13.00', 'then the price plus the fixed increment');
  const ebay = { min_increment: null, increment_table: null, seq: 1 };
  const table = (await one(sql`select auction.default_increment_table() as t`)).t;
  t.equal(await next({ ...ebay, increment_table: table, current_price: 24.99 }), '25.49', "eBay's 0.50 below 25");
  t.equal(await next({ ...ebay, increment_table: table, current_price: 25 }), '26.00', 'and 1.00 from 25');
  t.equal(await next({ ...ebay, increment_table: table, current_price: 99999 }), '100099.00', 'the last step has no bound');
  t.equal(await next({ ...ebay, increment_table: [{ below: 10, step: 1 }, { step: 5 }], current_price: 9.99 }), '10.99');
  t.equal(await next({ ...ebay, increment_table: [{ below: 10, step: 1 }, { step: 5 }], current_price: 10 }), '15.00', 'a bound belongs to the next step');
  t.equal(await next({ ...ebay, increment_table: [{ step: 2 }], current_price: 10 }), '12.00', 'a table of one step');
});

t.test('lifted_to_reserve and soft_close_end', async (t) => {
  const lift = async (price: number, upTo: number, reserve: number | null) =>
    (await one(sql`select auction.lifted_to_reserve(${auction({ reserve_price: reserve })}, ${price}::numeric, ${upTo}::numeric) as p`)).p;
  t.equal(await lift(12, 60, 50), '50.00', 'a bid that may go past the reserve meets it');
  t.equal(await lift(12, 49, 50), '12', 'one that may not stays');
  t.equal(await lift(55, 60, 50), '55', 'above the reserve nothing changes');
  t.equal(await lift(12, 60, null), '12', 'no reserve');
  const end = async (secondsLeft: number, soft: number) => new Date((await one(sql`
    select auction.soft_close_end(${auction({ soft_close_seconds: soft })}, ${AT}::timestamptz + make_interval(secs => ${3600 - secondsLeft})) as e`)).e).toISOString();
  t.equal(await end(30, 60), '2030-01-01T13:01:00.000Z', 'a bid in the last minute adds a minute');
  t.equal(await end(60, 60), '2030-01-01T13:00:00.000Z', 'exactly a minute before: no extension');
  t.equal(await end(30, 0), '2030-01-01T13:00:00.000Z', 'no soft close');
});

t.test('outcome_as_it_stands and replayed', async (t) => {
  t.match(await one(sql`select (auction.outcome_as_it_stands(${led(15, 20, { reserve_price: 30 })}, row(1, null, null), ${LEADER}, 25)).*`),
    { accepted: false, reason: null, current_price: '15.00', min_amount: '16.00', is_leading: true, max_amount: '25.00', reserve_met: false });
  t.match(await one(sql`select (auction.outcome_as_it_stands(null::auction.auctions, null, ${LEADER}, null)).*`),
    { accepted: false, current_price: null, min_amount: null, reserve_met: null, is_leading: false, duplicate: false });
  const replay = (first: { amount: string; max: string | null }, amount: string | null, max: string | null) => one(sql`
    select (auction.replayed(auction.outcome_as_it_stands(${led(15, 20)}, row(1, null, null), ${CHALLENGER}, ${max}::numeric),
            row(true, null, '00000000-0000-4000-8000-0000000000b1', 2, ${first.amount}::numeric, null, null, ${AT}::timestamptz,
                false, null, ${first.max}::numeric, null, null)::auction.bid_outcome, ${amount}::numeric, ${max}::numeric)).*`);
  t.match(await replay({ amount: '12.00', max: null }, '12.00', null),
    { accepted: true, duplicate: true, reason: null, bid_id: '00000000-0000-4000-8000-0000000000b1', seq: 2, amount: '12.00', current_price: '15.00' },
    'the same request: its first outcome on the auction as it stands');
  t.match(await replay({ amount: '12.00', max: null }, '13.00', null), { accepted: false, reason: 'request_id_conflict', bid_id: '00000000-0000-4000-8000-0000000000b1' });
  t.match(await replay({ amount: '12.00', max: '30.00' }, null, '30.00'), { accepted: true, duplicate: true }, 'a maximum: the same maximum');
  t.match(await replay({ amount: '12.00', max: '30.00' }, null, '31.00'), { reason: 'request_id_conflict' });
  t.match(await replay({ amount: '12.00', max: null }, '12.00', '12.00'), { reason: 'request_id_conflict' }, 'a maximum where there was none');
});

type Step = { reason: string | null; shown_max: string | null; amount: string | null; kind: string | null; answer: string | null;
  leader: string | null; leader_max: string | null; price: string | null };
const ladder = (a: ReturnType<typeof auction>, user: string, amount: number | null, max: number | null, at = AT) => one<Step>(sql`
  select (auction.proxy_ladder(s.a, auction.increments_of((s.a).min_increment, (s.a).increment_table), ${at}::timestamptz,
                               ${user}, ${num(amount)}::numeric, ${num(max)}::numeric)).* from (select ${a} as a) s`);

t.test('proxy_ladder: the first bid, too low, the leader bidding on', async (t) => {
  t.match(await ladder(auction(), CHALLENGER, 10, null),
    { reason: null, shown_max: null, amount: '10.00', kind: 'bid', answer: null, leader: CHALLENGER, leader_max: '10.00', price: '10.00' });
  t.match(await ladder(auction(), CHALLENGER, null, 50), { amount: '10.00', kind: 'proxy', leader_max: '50.00', price: '10.00' },
    'a maximum alone opens at the starting price');
  t.match(await ladder(auction(), CHALLENGER, 9.99, null), { reason: 'too_low', amount: null });
  t.match(await ladder(led(15, 20), CHALLENGER, 15.99, null), { reason: 'too_low' }, 'below price + increment');
  t.match(await ladder(led(15, 20), CHALLENGER, 14, 30), { reason: 'too_low' }, 'an amount below the minimum, whatever the maximum');
  t.match(await ladder(led(15, 20), LEADER, 17, null), { amount: '17.00', kind: 'bid', answer: null, leader: LEADER, leader_max: '20.00', price: '17.00' },
    'the leader raises the visible price and keeps the higher maximum');
  t.match(await ladder(led(15, 20), LEADER, 25, null), { leader_max: '25.00', price: '25.00' });
});

t.test('proxy_ladder: a challenger against the leader\'s maximum', async (t) => {
  t.match(await ladder(led(15, 20), CHALLENGER, 18, null),
    { shown_max: null, amount: '18.00', kind: 'bid', answer: '19.00', leader: LEADER, leader_max: '20.00', price: '19.00' },
    'below the maximum: the bid goes in, the leader answers one increment above');
  t.match(await ladder(led(15, 20), CHALLENGER, null, 19.5), { amount: '19.50', kind: 'proxy', answer: '20.00', price: '20.00' },
    'the answer is at most the maximum');
  t.match(await ladder(led(15, 20), CHALLENGER, 20, null), { amount: '20.00', answer: '20.00', leader: LEADER },
    'equal maxima: the earlier bid leads');
  t.match(await ladder(led(15, 20), CHALLENGER, null, 30),
    { shown_max: '20.00', amount: '21.00', kind: 'proxy', answer: null, leader: CHALLENGER, leader_max: '30.00', price: '21.00' },
    "over the maximum: the leader's maximum shows as their last bid, the challenger leads one increment above");
  t.match(await ladder(led(15, 20), CHALLENGER, null, 20.5), { shown_max: '20.00', amount: '20.50', price: '20.50' },
    'at most the challenger\'s maximum');
  t.match(await ladder(led(15, 20), CHALLENGER, 25, 30), { shown_max: '20.00', amount: '25.00', kind: 'bid', leader_max: '30.00' },
    'a typed amount above that stands');
  t.match(await ladder(led(20, 20), CHALLENGER, null, 30), { shown_max: null, amount: '21.00', leader: CHALLENGER },
    'a maximum already shown is not shown twice');
});

t.test('proxy_ladder: the reserve and soft close', async (t) => {
  t.match(await ladder(led(15, 20, { reserve_price: 50 }), CHALLENGER, null, 60), { shown_max: '20.00', amount: '50.00', price: '50.00' },
    'a maximum past the reserve puts the price at the reserve');
  t.match(await ladder(led(15, 20, { reserve_price: 50 }), CHALLENGER, null, 40), { amount: '21.00' }, 'one short of it does not');
  t.match(await ladder(led(15, 60, { reserve_price: 50 }), CHALLENGER, null, 30), { amount: '30.00', answer: '50.00', leader: LEADER },
    "the leader's answer meets the reserve when their maximum can");
  const late = '2030-01-01T12:59:30Z';
  t.match(await ladder(led(15, 20, { soft_close_seconds: 60 }), CHALLENGER, null, 30, late), { end_time: new Date('2030-01-01T13:01:00Z') },
    'a bid in the last minute extends the end');
});

t.test('proxy_ladder: the leader raising their maximum (raised_max)', async (t) => {
  t.match(await ladder(led(15, 20), LEADER, null, 19), { reason: 'max_not_raised' });
  t.match(await ladder(led(15, 20), LEADER, null, 20), { reason: null, amount: null, leader_max: '20.00', price: '15.00' }, 'the same: no change');
  t.match(await ladder(led(15, 20), LEADER, null, 40), { reason: null, amount: null, answer: null, leader: LEADER, leader_max: '40.00', price: '15.00' },
    'higher: no visible bid');
  t.match(await ladder(led(15, 20, { reserve_price: 30 }), LEADER, null, 40), { amount: '30.00', kind: 'proxy', price: '30.00' },
    'higher, past the reserve: a proxy bid at the reserve');
  t.match(await ladder(led(15, 20, { soft_close_seconds: 60 }), LEADER, null, 40, '2030-01-01T12:59:30Z'),
    { end_time: new Date('2030-01-01T13:00:00Z') }, 'no soft close: the lead did not change hands');
});
