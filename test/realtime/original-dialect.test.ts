// The original design's dialect: a client written for the original Go server plays a whole session through two
// instances and reads every message as that server sent it (strict decoding, test/helpers/original-client.ts);
// ours is unchanged beside it, on the same auction.
import t from 'tap';
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { freshDb } from '../helpers/db.ts';
import { connectClient, startInstance } from '../helpers/app.ts';
import { inSeconds } from '../helpers/fixtures.ts';
import { connectOriginal, type OriginalMsg } from '../helpers/original-client.ts';
import { metrics } from '../../src/metrics.ts';

const db = await freshDb(t);
// A speaks the original by default (what an unchanged original client needs); B speaks ours unless asked
const a = await startInstance(t, db.url, { AUTH_ALLOW_USER_ID_PARAM: 'true', WS_DEFAULT_DIALECT: 'original' });
const b = await startInstance(t, db.url, { AUTH_ALLOW_USER_ID_PARAM: 'true' });
const now = () => Math.floor(Date.now() / 1000);

/** An item an operator created (no owner): anyone may auction it. */
async function seedItem(name: string) {
  const [r] = await db.sql`select auction.create_item(${name}, 'seeded') as id`;
  return r.id as string;
}

/** The upgrade's refusal as raw HTTP. */
function refusal(url: string, protocols: string[] = []): Promise<{ status: number; type: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols);
    ws.once('open', () => reject(new Error('upgrade accepted')));
    ws.once('error', () => {});
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode!, type: res.headers['content-type'], body }));
    });
  });
}

t.test('the upgrade refuses a missing or bad user_id with the original texts, and an unknown subprotocol with 400', async (t) => {
  t.same(await refusal(a.ws), { status: 400, type: 'text/plain; charset=utf-8', body: 'user_id is required\n' });
  t.same(await refusal(`${a.ws}?user_id=nope`), { status: 400, type: 'text/plain; charset=utf-8', body: 'invalid user_id format\n' });
  t.same(await refusal(`${b.ws}?user_id=nope`, ['auction-original']), { status: 400, type: 'text/plain; charset=utf-8', body: 'invalid user_id format\n' });
  const unknown = await refusal(`${b.ws}?user_id=${randomUUID()}`, ['chat']);
  t.equal(unknown.status, 400);
  t.match(JSON.parse(unknown.body), { error: { code: 'unsupported_subprotocol' } });
  // ours on B without a user_id is ours: 401 JSON
  const ours = await refusal(b.ws);
  t.equal(ours.status, 401);
  t.match(JSON.parse(ours.body), { error: { code: 'unauthorized' } });
});

t.test('/health has the original body', async (t) => {
  const res = await fetch(`${a.http}/health`);
  t.same(await res.json(), { status: 'ok', service: 'auction-websocket' });
});

t.test('the subprotocol names the dialect; the server answers with the one it chose', async (t) => {
  const ours = new WebSocket(`${a.ws}?user_id=${randomUUID()}`, ['auction.v1']);
  await new Promise((r) => ours.once('open', r));
  t.equal(ours.protocol, 'auction.v1');
  const pong = new Promise<string>((r) => ours.once('message', (d) => r(d.toString())));
  ours.send(JSON.stringify({ type: 'ping', request_id: 'p' }));
  t.match(JSON.parse(await pong), { type: 'pong', request_id: 'p' });
  ours.close();
  const orig = await connectOriginal(t, b, randomUUID(), { subprotocol: 'auction-original' });
  t.equal(orig.ws.protocol, 'auction-original');
  const p = await orig.request({ type: 'ping' });
  t.equal(p.type, 'pong');
  // several offered: the first one we speak
  const both = new WebSocket(`${b.ws}?user_id=${randomUUID()}`, ['chat', 'auction-original', 'auction.v1']);
  await new Promise((r) => both.once('open', r));
  t.equal(both.protocol, 'auction-original');
  both.close();
});

t.test('a full original session through two instances, every message as the original server sent it', async (t) => {
  const [sellerId, aliceId, bobId, carolId] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
  const seller = await connectOriginal(t, a, sellerId);
  const alice = await connectOriginal(t, b, aliceId, { subprotocol: 'auction-original' });
  const bob = await connectOriginal(t, a, bobId);
  const carol = await connectOriginal(t, b, carolId, { subprotocol: 'auction-original' });
  const watcher = await connectClient(t, b, 'o-watcher'); // ours: hears auction_started, which the original never does
  const [watch, vase, later] = [await seedItem('Vintage Watch'), await seedItem('Antique Vase'), await seedItem('Art Painting')];

  // ping: unknown keys and data: null are ignored, as Go's decoder did
  const pong = await seller.request({ type: 'ping', data: null, request_id: 'x', extra: [1], timestamp: now() });
  t.same(Object.keys(pong), ['type', 'timestamp']);
  t.equal(pong.type, 'pong');
  t.ok(pong.timestamp <= now() && pong.timestamp > now() - 60, 'seconds');

  // malformed and invalid messages: the original's wrapped texts, no auction_id
  const isError = (m: OriginalMsg) => m.type === 'error';
  t.match((await seller.request('{nope', isError)).error, /^invalid message format: failed to parse client message: /);
  t.equal((await seller.request({ data: {} }, isError)).error, 'invalid message format: message type is required');
  t.equal((await seller.request({ type: 'dance' }, isError)).error, 'message validation failed: unknown message type');
  t.equal((await seller.request({ type: 'subscribe' }, isError)).error, 'message validation failed: auction_id is required');
  t.match((await seller.request({ type: 'get_auction', auction_id: 'abc' }, isError)).error, /^invalid message format: failed to parse client message: invalid UUID length: 3$/);
  t.match((await seller.request({ type: 'ping', timestamp: 'soon' }, isError)).error,
    'invalid message format: failed to parse client message: json: cannot unmarshal string into Go struct field ClientMessage.timestamp of type int64');
  t.equal((await seller.request({ type: 'create_auction', data: { start_time: inSeconds(60) } }, isError)).error, 'message validation failed: item_id is required');

  // create: an operator-seeded item, start and end times, a starting price
  const create = (data: Record<string, unknown>) => seller.request({ type: 'create_auction', data, timestamp: now() },
    (m) => m.type === 'auction_created' || m.type === 'error');
  t.equal((await create({ item_id: watch, start_time: inSeconds(-60), end_time: inSeconds(3600), starting_price: 100 })).error,
    'start time cannot be in the past');
  t.equal((await create({ item_id: randomUUID(), start_time: inSeconds(60), end_time: inSeconds(3600), starting_price: 100 })).error, 'item not found');
  t.equal((await create({ item_id: 'x', start_time: inSeconds(60), end_time: inSeconds(3600), starting_price: 100 })).error, 'invalid item_id format');
  t.equal((await create({ item_id: watch, start_time: inSeconds(60), end_time: inSeconds(30), starting_price: 100 })).error, 'end time must be after start time');
  t.equal((await create({ item_id: watch, start_time: inSeconds(60), end_time: inSeconds(3600), starting_price: -1 })).error, 'starting price must be greater than 0');
  const startAt = new Date(Date.now() + 1500);
  const created = await create({ item_id: watch, start_time: startAt.toISOString(), end_time: inSeconds(3600), starting_price: 100 });
  t.equal(created.type, 'auction_created', JSON.stringify(created));
  t.equal(created.auction_id, undefined, 'auction_created has no auction_id of its own, as in the original');
  const id = created.data!.auction_id as string;
  t.same(created.data, {
    auction_id: id, creator_id: sellerId, current_price: 100, end_time: created.data!.end_time, item_id: watch,
    start_time: startAt.toISOString().replace(/\.\d{3}Z$/, 'Z'), starting_price: 100, status: 'active',
  }, 'active from creation; times in whole seconds');
  t.same(Object.keys(created.data!), Object.keys(created.data!).sort(), 'a Go map: keys sorted');
  t.equal((await create({ item_id: watch, start_time: inSeconds(60), end_time: inSeconds(3600), starting_price: 5 })).error,
    'item is already in an active auction');
  const future = await create({ item_id: later, start_time: inSeconds(3600), end_time: inSeconds(7200), starting_price: 5 });
  const futureId = future.data!.auction_id as string;

  // subscribe: the confirmation is data.status "subscribed"
  await watcher.request({ type: 'subscribe', auction_id: id });
  for (const c of [seller, alice, bob]) {
    const sub = await c.request({ type: 'subscribe', auction_id: id }, (m) => m.auction_id === id);
    t.same([sub.type, sub.auction_id, sub.data], ['auction_update', id, { status: 'subscribed' }]);
  }
  t.same((await alice.request({ type: 'subscribe', auction_id: randomUUID() }, isError)).error, 'auction not found');

  // get
  const got = await alice.request({ type: 'get_auction', auction_id: id });
  t.same([got.type, got.auction_id, got.data], ['auction_update', id, created.data]);
  const missing = randomUUID();
  const nf = await alice.request({ type: 'get_auction', auction_id: missing });
  t.same([nf.type, nf.auction_id, nf.error], ['error', missing, 'auction not found']);

  // list with limit/offset (newest first); the offset goes to a whole page, as the original computed it
  const list = (data?: unknown) => bob.request(data === undefined ? { type: 'list_auctions' } : { type: 'list_auctions', data });
  const all = await list();
  t.equal(all.type, 'auction_update');
  t.same(all.data!.auctions.map((x: { id: string }) => x.id), [futureId, id], 'default 10, newest first');
  t.equal(all.data!.count, 2);
  const row = all.data!.auctions[1];
  t.same(Object.keys(row), ['id', 'item_id', 'creator_id', 'start_time', 'end_time', 'starting_price', 'current_price', 'status', 'created_at', 'updated_at'],
    'the Auction struct, in its field order');
  t.same((await list({ limit: 1, offset: 1 })).data!.auctions.map((x: { id: string }) => x.id), [id]);
  t.same((await list({ limit: 1, offset: 0 })).data!.auctions.map((x: { id: string }) => x.id), [futureId]);
  t.same((await list({ limit: 2, offset: 1 })).data!.auctions.map((x: { id: string }) => x.id), [futureId, id], 'offset 1 of pages of 2 is page 1');
  t.same((await list({ limit: 5, offset: 10 })).data, { auctions: null, count: 0 }, 'an empty page is null, as a nil slice marshals');

  // refused bids: the original's error with the auction's id
  // the reply: an error, or (accepted) the broadcast of this bidder's own bid
  const bid = (c: typeof alice, auction: string, amount: unknown) => c.request({ type: 'place_bid', auction_id: auction, data: { amount } },
    (m) => m.type === 'error' || (m.type === 'bid_placed' && m.data!.user_id === c.userId && m.data!.amount === amount));
  await alice.request({ type: 'subscribe', auction_id: futureId });
  const early = await bid(alice, futureId, 10);
  t.same([early.type, early.auction_id, early.error], ['error', futureId, 'auction not started']);
  t.equal((await bid(carol, id, 150)).error, 'user not subscribed to auction');
  t.equal((await bid(alice, id, 'lots')).error, 'message validation failed: valid amount is required');

  await watcher.next((m) => m.type === 'auction_started' && m.auction_id === id, 10_000);
  t.equal((await bid(alice, id, 100)).error, 'bid amount must be higher than starting price');
  const first = await bid(alice, id, 150);
  t.equal(first.type, 'bid_placed', 'an accepted bid has no reply but its broadcast');
  t.same([first.auction_id, first.data!.user_id, first.data!.amount], [id, aliceId, 150]);
  t.same(Object.keys(first.data!), ['amount', 'bid_id', 'timestamp', 'user_id']);
  t.equal((await bid(bob, id, 150)).error, 'bid amount must be higher than current highest bid');
  const second = await bid(bob, id, 150.01);
  t.same([second.type, second.data!.amount], ['bid_placed', 150.01], 'the original rule: any amount above the price');
  t.equal((await bid(seller, id, 500)).error, 'the seller cannot bid on their own auction', 'our rule, in the original form');

  // unsubscribe: data.status "unsubscribed"; bob hears no more of it
  const unsub = await bob.request({ type: 'unsubscribe', auction_id: id });
  t.same([unsub.type, unsub.auction_id, unsub.data], ['auction_update', id, { status: 'unsubscribed' }]);
  const third = await bid(alice, id, 160);
  t.equal(third.type, 'bid_placed');
  await seller.next((m) => m.type === 'bid_placed' && m.data!.amount === 160);

  // the end (an operator ends it now): winner and final price
  await db.sql`select auction.end_auction(${id})`;
  const isEnd = (m: OriginalMsg) => m.type === 'auction_ended';
  for (const c of [seller, alice]) {
    const end = await c.next(isEnd);
    t.same([end.auction_id, end.data], [id, { auction_id: id, final_price: 160, status: 'ended', winner_id: aliceId }]);
  }
  const ended = await alice.request({ type: 'get_auction', auction_id: id });
  t.equal(ended.data!.status, 'ended');
  t.equal(ended.data!.current_price, 160);
  t.equal((await bid(alice, id, 170)).error, 'auction is not accepting bids');

  for (const c of [seller, alice, bob, carol]) await c.settled();
  for (const c of [seller, alice, bob, carol]) t.same(c.errors.map(String), [], 'every message decodes strictly');
  t.same([...new Set([seller, alice, bob, carol].flatMap((c) => c.messages.map((m) => m.type)))].sort(),
    ['auction_created', 'auction_ended', 'auction_update', 'bid_placed', 'error', 'pong'], 'only types the original knows');
  t.same(seller.messages.filter((m) => m.type === 'bid_placed').map((m) => m.data!.amount), [150, 150.01, 160]);
  t.same(bob.messages.filter((m) => m.type === 'bid_placed').map((m) => m.data!.amount), [150, 150.01], 'nothing after unsubscribe');
  t.notOk(bob.messages.some(isEnd));
  t.notOk(carol.messages.some((m) => m.type === 'bid_placed' || isEnd(m)));
  t.ok([seller, alice, bob, carol].every((c) => c.raw.every((r) => !/request_id|"seq"/.test(r))), 'no request_id, no seq');
});

t.test('both dialects on one auction on different instances: each hears every bid, in order, in its own rendering', async (t) => {
  const seller = await connectClient(t, a, 'd-seller', { protocols: ['auction.v1'] });
  const ours = await connectClient(t, b, 'd-ours');
  const bidder = await connectClient(t, b, 'd-bidder');
  const original = await connectOriginal(t, a, randomUUID());
  const id = await seller.createAuction({ startingPrice: 100, minIncrement: null });
  await ours.request({ type: 'subscribe', auction_id: id });
  await original.request({ type: 'subscribe', auction_id: id });
  // an auction of ours keeps its own rule (eBay's steps): an original bid above the price but under the step is refused clearly
  const amounts = [100, 102.5, 105, 107.5, 110];
  for (const amount of amounts) await bidder.request({ type: 'place_bid', auction_id: id, data: { amount } });
  await ours.next((m) => m.type === 'bid_placed' && m.seq === amounts.length);
  await original.next((m) => m.type === 'bid_placed' && m.data!.amount === 110);
  t.same(ours.bids(id).map((m) => [m.seq, m.data.amount]), amounts.map((x, i) => [i + 1, x]), 'ours: seq and amount');
  t.ok(ours.bids(id).every((m) => typeof m.data.time === 'string' && m.timestamp > 1e12), 'ours: milliseconds, RFC 3339 time');
  const orig = original.messages.filter((m) => m.type === 'bid_placed');
  t.same(orig.map((m) => m.data!.amount), amounts, 'the original: every bid, in order');
  t.same(original.errors.map(String), []);
  const under = await original.request({ type: 'place_bid', auction_id: id, data: { amount: 110.5 } }, (m) => m.type === 'error');
  t.equal(under.error, 'bid must be at least 112.50');
  // a resume by since_seq stays ours
  const resumed = await connectClient(t, b, 'd-resume');
  await resumed.request({ type: 'subscribe', auction_id: id, data: { since_seq: 3 } });
  await resumed.next((m) => m.type === 'bid_placed' && m.seq === 5);
  t.same(resumed.bids(id).map((m) => m.seq), [4, 5]);
});

t.test('an end without bids and a cancellation, in the original form; the original hears nothing on the user channel', async (t) => {
  const seller = await connectOriginal(t, a, randomUUID());
  const watcher = await connectOriginal(t, b, randomUUID(), { subprotocol: 'auction-original' });
  const ours = await connectClient(t, b, 'c-ours');
  const create = async (name: string, startsIn: number) => (await seller.request({ type: 'create_auction', data: {
    item_id: await seedItem(name), start_time: inSeconds(startsIn), end_time: inSeconds(3600), starting_price: 10 } },
  (m) => m.type === 'auction_created')).data!.auction_id as string;
  const [quiet, withdrawn] = [await create('Quiet lamp', 1), await create('Withdrawn lamp', 60)];
  for (const id of [quiet, withdrawn]) {
    await watcher.request({ type: 'subscribe', auction_id: id });
    await ours.request({ type: 'subscribe', auction_id: id });
  }
  await ours.next((m) => m.type === 'auction_started' && m.auction_id === quiet, 10_000);
  await db.sql`select auction.end_auction(${quiet})`;
  const end = await watcher.next((m) => m.type === 'auction_ended');
  t.same([end.auction_id, end.data], [quiet, { auction_id: quiet, status: 'ended' }], 'no winner_id, no final_price: absent, not null');
  await db.sql`select auction.cancel_auction(${withdrawn}, 'seller withdrew it')`;
  const cancelled = await watcher.next((m) => m.type === 'auction_update' && m.data!.status === 'cancelled');
  t.same([cancelled.auction_id, cancelled.data], [withdrawn, { auction_id: withdrawn, status: 'cancelled' }]);
  await ours.next((m) => m.type === 'auction_cancelled' && m.auction_id === withdrawn);
  await seller.settled();
  await watcher.settled();
  t.same(seller.messages.map((m) => m.type), ['auction_created', 'auction_created', 'pong'], "the seller's own channel is ours only");
  t.same(watcher.errors.map(String), []);
  t.notOk(watcher.messages.some((m) => m.type === 'auction_started'), 'a start the original never announced');
});

t.test('an event is rendered once per dialect that a socket on the instance reads, and only then', async (t) => {
  const count = async (c: typeof metrics.fanoutMessages) => (await c.get()).values[0]?.value ?? 0;
  const seller = await connectClient(t, a, 'l-seller', { protocols: ['auction.v1'] });
  const bidder = await connectClient(t, a, 'l-bidder', { protocols: ['auction.v1'] });
  const ours = await connectClient(t, a, 'l-ours', { protocols: ['auction.v1'] });
  const originals = [await connectOriginal(t, a, randomUUID()), await connectOriginal(t, a, randomUUID())];
  const id = await seller.createAuction({ startingPrice: 1 });
  await ours.request({ type: 'subscribe', auction_id: id });
  // the first bid may also start the auction (an event of ours only): count from the second on
  await bidder.request({ type: 'place_bid', auction_id: id, data: { amount: 2 } });
  await ours.next((m) => m.type === 'bid_placed' && m.seq === 1);
  let [m0, s0] = [await count(metrics.fanoutMessages), await count(metrics.fanoutSends)];
  await bidder.request({ type: 'place_bid', auction_id: id, data: { amount: 3 } });
  await ours.next((m) => m.type === 'bid_placed' && m.seq === 2);
  t.equal(await count(metrics.fanoutMessages) - m0, 1, 'ours only: not rendered in the original dialect');
  for (const o of originals) await o.request({ type: 'subscribe', auction_id: id });
  [m0, s0] = [await count(metrics.fanoutMessages), await count(metrics.fanoutSends)];
  await bidder.request({ type: 'place_bid', auction_id: id, data: { amount: 4 } });
  await ours.next((m) => m.type === 'bid_placed' && m.seq === 3);
  for (const o of originals) await o.next((m) => m.type === 'bid_placed' && m.data!.amount === 4);
  t.equal(await count(metrics.fanoutMessages) - m0, 2, 'once per dialect');
  t.equal(await count(metrics.fanoutSends) - s0, 3, 'one send per subscriber');
  const frames = originals.map((o) => o.raw.find((r) => r.includes('"amount":4,')));
  t.ok(frames[0] && frames[0] === frames[1], 'the same bytes to each original socket');
});
