import t from 'tap';
import { freshDb } from '../helpers/db.ts';
import { makeAuction, makeUser } from '../helpers/fixtures.ts';
import { connectClient, startInstance } from '../helpers/app.ts';
import { BidBatcher } from '../../src/domain/bids.ts';
import { registry } from '../../src/metrics.ts';

const db = await freshDb(t, { max: 20 });

t.test('place_bids judges each bid alone, in arrival order per auction', async (t) => {
  const a = await makeAuction(db.sql, { startingPrice: '10.00', minIncrement: '1.00' });
  const b = await makeAuction(db.sql, { startingPrice: '10.00', minIncrement: '1.00' });
  const [x, y] = [await makeUser(db.sql), await makeUser(db.sql)];
  const rows = await db.sql`
    select * from auction.place_bids(
      ${[a.id, b.id, a.id, a.id, b.id, a.id]}::uuid[],
      ${[x, y, y, x, a.seller, y]}::uuid[],
      ${['10', '10', '10', '12', '50', '0.001']}::numeric[],
      ${[null, null, null, null, null, null]}::text[]) order by ord`;
  t.same(rows.map((r) => [r.ord, r.accepted, r.reason, r.seq]), [
    [1, true, null, 1],
    [2, true, null, 1],
    [3, false, 'too_low', null], // equal to bid 1, which arrived first
    [4, true, null, 2],
    [5, true, null, 2],          // a's seller may bid on b
    [6, false, 'invalid_amount', null],
  ]);
});

t.test('batches that name the same auctions in opposite orders do not deadlock', async (t) => {
  const auctions = await Promise.all(Array.from({ length: 6 }, () => makeAuction(db.sql, { minIncrement: '0.01' })));
  const ids = auctions.map((a) => a.id);
  const users = await Promise.all(Array.from({ length: 8 }, () => makeUser(db.sql)));
  let price = 10;
  const batches = Array.from({ length: 40 }, (_, k) => {
    const order = k % 2 ? [...ids].reverse() : ids;
    return db.sql`select count(*)::int as n from auction.place_bids(${order}::uuid[],
      ${order.map(() => users[k % users.length])}::uuid[], ${order.map(() => (price += 1).toFixed(2))}::numeric[],
      ${order.map(() => null)}::text[])`;
  });
  const results = await Promise.all(batches);
  t.equal(results.reduce((s, r) => s + r[0].n, 0), 240, 'every batch completed');
});

t.test('under concurrent load the batcher groups bids, and every outcome matches the database', async (t) => {
  const a = await makeAuction(db.sql, { startingPrice: '1.00', minIncrement: '0.01' });
  const users = await Promise.all(Array.from({ length: 32 }, () => makeUser(db.sql)));
  const batcher = new BidBatcher(db.sql, { maxBatch: 64, concurrency: 2 });
  const transactions = async () => (await registry.getSingleMetric('auction_bid_batch_size')!.get()).values
    .find((v) => (v as { metricName?: string }).metricName?.endsWith('_count'))?.value ?? 0;
  const before = await transactions();
  const outcomes = await Promise.all(Array.from({ length: 640 }, (_, i) =>
    batcher.submit({ auctionId: a.id, userId: users[i % 32], amount: (1 + Math.floor(i / 2) * 0.01 + (i % 7) * 0.01).toFixed(2) })));
  const batches = (await transactions()) - before;
  t.ok(batches < 640, `640 bids went in ${batches} transactions`);
  const accepted = outcomes.filter((o) => o.accepted);
  const log = await db.sql`select seq, amount, user_id, id from auction.bids where auction_id = ${a.id} order by seq`;
  t.equal(log.length, accepted.length, 'every accepted outcome is one stored bid');
  t.same(new Set(accepted.map((o) => o.bid_id)), new Set(log.map((b) => b.id)));
  t.same(log.map((b) => b.seq), log.map((_, i) => i + 1), 'seq has no gaps');
  for (let i = 1; i < log.length; i++) t.ok(Number(log[i].amount) > Number(log[i - 1].amount), `seq ${i + 1} rises`);
  const [row] = await db.sql`select current_price, high_bidder_id, seq from auction.auctions where id = ${a.id}`;
  t.same([row.current_price, row.high_bidder_id, row.seq], [log.at(-1)!.amount, log.at(-1)!.user_id, log.length]);
});

t.test('bids over the socket go through the batcher', async (t) => {
  const inst = await startInstance(t, db.url);
  const seller = await connectClient(t, inst, 'seller');
  const id = await seller.createAuction({ item: { name: 'Hot item' }, startingPrice: 1, minIncrement: 0.01 });
  const bidders = await Promise.all(Array.from({ length: 16 }, (_, i) => connectClient(t, inst, `b${i}`)));
  const replies = await Promise.all(bidders.flatMap((c, i) => Array.from({ length: 10 }, (_, k) =>
    c.request({ type: 'place_bid', auction_id: id, data: { amount: Number((1 + k * 0.16 + i * 0.01).toFixed(2)) } }))));
  const ok = replies.filter((r) => r.type === 'bid_accepted');
  t.ok(ok.length > 0);
  t.ok(replies.every((r) => r.type === 'bid_accepted' || r.type === 'bid_rejected'), 'every bid got an outcome');
  const [{ n }] = await db.sql`select count(*)::int as n from auction.bids where auction_id = ${id!}`;
  t.equal(n, ok.length);
});
