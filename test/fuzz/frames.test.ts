import t from 'tap';
import fc from 'fast-check';
import { freshDb } from '../helpers/db.ts';
import { connectClient, startInstance, type Msg } from '../helpers/app.ts';
import { CLOSE } from '../../src/protocol/close-codes.ts';

const db = await freshDb(t);
const inst = await startInstance(t, db.url, { WS_RATE_LIMIT_PER_SEC: '100000', WS_RATE_BURST: '100000', WS_USER_RATE_LIMIT_PER_SEC: '100000', WS_USER_RATE_BURST: '100000' });
const seller = await connectClient(t, inst, 'fuzz-seller');
const auctionId = await seller.createAuction({ item: { name: 'Fuzzed' }, startingPrice: 1 });

// Values that have broken JSON APIs before: huge, tiny, NaN-like, negative, many decimals, wrong types.
const nasty = fc.oneof(
  fc.constantFrom(null, true, '', 'NaN', 'Infinity', '-0', '1e309', '0x10', '１２', '1.005', '601.50', 1e21, -0, 0.1 + 0.2, Number.MAX_VALUE, Number.MIN_VALUE, -1, 2 ** 53 + 1),
  fc.double(), fc.integer(), fc.string({ maxLength: 20 }), fc.array(fc.integer(), { maxLength: 3 }), fc.object({ maxDepth: 1 }),
);
const types = fc.constantFrom('subscribe', 'unsubscribe', 'place_bid', 'create_auction', 'get_auction', 'list_auctions', 'list_bids', 'ping', 'PING', 'bid', '', '__proto__');
const ids = fc.oneof(fc.constant(auctionId), fc.uuid(), fc.string({ maxLength: 40 }), nasty);
const frame = fc.oneof(
  fc.record({ type: types, auction_id: ids, data: fc.oneof(nasty, fc.record({ amount: nasty }), fc.record({ since_seq: nasty }),
    fc.record({ item: fc.record({ name: nasty }), start_time: nasty, end_time: nasty, starting_price: nasty }), fc.record({ limit: nasty, cursor: nasty, status: nasty })),
  request_id: fc.oneof(fc.string({ maxLength: 200 }), nasty) }, { requiredKeys: ['type'] }).map((o) => JSON.stringify(o)),
  fc.string({ maxLength: 300 }),
  fc.json({ maxDepth: 3 }),
  fc.constantFrom('{', '[]', 'null', '"x"', '{"type":"place_bid","data":{"amount":1}}', '{"__proto__":{"type":"ping"}}'),
);

const KNOWN = new Set(['error', 'pong', 'auction_update', 'auction_list', 'bid_list', 'auction_created', 'bid_accepted', 'bid_rejected', 'bid_placed', 'auction_started']);

t.test('random and malformed frames: every one gets a typed answer, the socket and server keep working', async (t) => {
  const c = await connectClient(t, inst, 'fuzzer');
  let n = 0;
  await fc.assert(fc.asyncProperty(frame, async (text) => {
    n++;
    const before = c.messages.length;
    c.send(text);
    // a ping after each frame: once its pong is back, the frame's own answer (if any) is in too
    const pong = await c.request({ type: 'ping' });
    if (pong.type !== 'pong') return false;
    const answers = c.messages.slice(before).filter((m: Msg) => m !== pong);
    return answers.length >= 1 && answers.every((m) => KNOWN.has(m.type) && (m.type !== 'error' || typeof m.error?.code === 'string'));
  }), { numRuns: 400 });
  t.equal(c.closeCode, undefined, 'never closed');
  t.comment(`${n} frames tried`);
  const [row] = await db.sql`select count(*)::int as n from auction.auctions`;
  t.ok(row.n >= 1, 'the database is intact');
  const other = await connectClient(t, inst, 'bystander');
  t.match(await other.request({ type: 'get_auction', auction_id: auctionId }), { type: 'auction_update' });
});

t.test('accepted amounts always have at most two decimals and equal what was sent', async (t) => {
  const c = await connectClient(t, inst, 'amounts');
  await fc.assert(fc.asyncProperty(fc.oneof(fc.double({ min: 0, max: 1e11, noNaN: true }), fc.integer({ min: 1, max: 10 ** 10 }).map((x) => (x / 100).toFixed(2))), async (amount) => {
    const r = await c.request({ type: 'place_bid', auction_id: auctionId, data: { amount } });
    if (r.type === 'bid_accepted') return Number(r.data.amount) === Number(amount) && /^\d+(\.\d{1,2})?$/.test(String(amount));
    return r.type === 'bid_rejected' || (r.type === 'error' && r.error?.code === 'invalid_message');
  }), { numRuns: 200 });
  const bids = await db.sql`select amount::text as a from auction.bids where auction_id = ${auctionId!}`;
  t.ok(bids.every((b) => /^\d+\.\d{2}$/.test(b.a)));
});

t.test('binary frames and floods do not affect other clients', async (t) => {
  const c = await connectClient(t, inst, 'binary');
  const other = await connectClient(t, inst, 'neighbour');
  await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 512 }), async (bytes) => {
    c.ws.send(bytes, { binary: true });
    return (await c.request({ type: 'ping' })).type === 'pong';
  }), { numRuns: 100 });
  for (let i = 0; i < 2000; i++) c.send('{"type":"ping"}');
  t.match(await other.request({ type: 'ping' }), { type: 'pong' });
  t.notOk([CLOSE.tooBig, CLOSE.rateLimited].includes(c.closeCode as 1009), 'a flood under the limit is served');
});
