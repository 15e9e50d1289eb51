import t from 'tap';
import { freshDb } from '../helpers/db.ts';
import { connectClient, startInstance, tokenFor } from '../helpers/app.ts';
import { inSeconds } from '../helpers/fixtures.ts';

const db = await freshDb(t);
const inst = await startInstance(t, db.url);
const seller = await tokenFor('rest-seller');
const bidder = await tokenFor('rest-bidder');

async function call(method: string, path: string, opts: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token !== '') headers.authorization = `Bearer ${opts.token ?? bidder.token}`;
  if (opts.body !== undefined || opts.raw !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${inst.http}${path}`, { method, headers, body: opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)) });
  return { status: res.status, body: await res.json() as any };
}

const newAuction = (body: Record<string, unknown> = {}) => call('POST', '/api/v1/auctions', { token: seller.token, body: {
  item: { name: 'REST lamp' }, start_time: inSeconds(-1), end_time: inSeconds(3600), starting_price: 10, ...body } });

t.test('create an item and an auction, bid, read it back, list it, and see the bids by seq', async (t) => {
  const item = await call('POST', '/api/v1/items', { token: seller.token, body: { name: 'Vase', description: 'blue' } });
  t.equal(item.status, 201);
  t.match(item.body, { name: 'Vase', owner_id: seller.userId });
  const created = await call('POST', '/api/v1/auctions', { token: seller.token, body: {
    item_id: item.body.id, start_time: inSeconds(-1), end_time: inSeconds(3600), starting_price: '10.00', min_increment: 1 } });
  t.equal(created.status, 201);
  t.match(created.body, { item_id: item.body.id, creator_id: seller.userId, starting_price: 10, min_increment: 1, seq: 0 });
  const id = created.body.auction_id;

  const watcher = await connectClient(t, inst, 'rest-watcher');
  await watcher.request({ type: 'subscribe', auction_id: id });
  const first = await call('POST', `/api/v1/auctions/${id}/bids`, { body: { amount: 10 } });
  t.equal(first.status, 201);
  t.match(first.body, { amount: 10, seq: 1, min_next_bid: 11, duplicate: false });
  t.match(await watcher.next((m) => m.type === 'bid_placed'), { seq: 1, data: { user_id: bidder.userId } }, 'a REST bid reaches socket subscribers');

  const low = await call('POST', `/api/v1/auctions/${id}/bids`, { body: { amount: 10.5 } });
  t.equal(low.status, 409);
  t.match(low.body, { error: { code: 'too_low' }, min_next_bid: 11, current_price: 10 });
  t.equal((await call('POST', `/api/v1/auctions/${id}/bids`, { token: seller.token, body: { amount: 50 } })).body.error.code, 'own_auction');
  await call('POST', `/api/v1/auctions/${id}/bids`, { body: { amount: '12.50' } });

  t.match((await call('GET', `/api/v1/auctions/${id}`)).body, { auction_id: id, current_price: 12.5, high_bidder_id: bidder.userId, seq: 2 });
  const bids = await call('GET', `/api/v1/auctions/${id}/bids?since_seq=0&limit=1`);
  t.match(bids.body, { bids: [{ seq: 1, amount: 10 }], next_since_seq: 1 });
  t.match((await call('GET', `/api/v1/auctions/${id}/bids?since_seq=1`)).body, { bids: [{ seq: 2, amount: 12.5 }], next_since_seq: null });
  const list = await call('GET', '/api/v1/auctions?limit=50&status=active');
  t.ok(list.body.auctions.some((a: { auction_id: string }) => a.auction_id === id));
});

t.test("only an item's owner may auction it: another user gets 403 not_item_owner", async (t) => {
  const item = await call('POST', '/api/v1/items', { token: seller.token, body: { name: 'Owned vase' } });
  t.equal(item.status, 201);
  const body = { item_id: item.body.id, start_time: inSeconds(-1), end_time: inSeconds(3600), starting_price: 10 };
  const theirs = await call('POST', '/api/v1/auctions', { token: bidder.token, body });
  t.equal(theirs.status, 403);
  t.match(theirs.body, { error: { code: 'not_item_owner', message: 'only the owner of this item may auction it' } });
  const mine = await call('POST', '/api/v1/auctions', { token: seller.token, body });
  t.equal(mine.status, 201, 'the owner still may');
  t.match(mine.body, { item_id: item.body.id, creator_id: seller.userId });

  const [seeded] = await db.sql`select auction.create_item('seeded vase') as id`;
  const anyone = await call('POST', '/api/v1/auctions', { token: bidder.token, body: { ...body, item_id: seeded.id } });
  t.equal(anyone.status, 201, 'an item without an owner: anyone');
  t.match(anyone.body, { creator_id: bidder.userId });
});

t.test('an auction created without start_time starts now and takes a bid at once', async (t) => {
  const before = Date.now();
  const created = await call('POST', '/api/v1/auctions', { token: seller.token, body: {
    item: { name: 'REST clock' }, end_time: inSeconds(3600), starting_price: 10 } });
  t.equal(created.status, 201);
  const start = Date.parse(created.body.start_time);
  t.ok(start >= before - 1000 && start <= Date.now() + 1000, `start_time is now (${created.body.start_time})`);
  t.match(await call('POST', `/api/v1/auctions/${created.body.auction_id}/bids`, { body: { amount: 10 } }), { status: 201, body: { seq: 1 } });
});

t.test('Idempotency-Key: a retried bid is placed once', async (t) => {
  const { body: a } = await newAuction();
  const once = await call('POST', `/api/v1/auctions/${a.auction_id}/bids`, { body: { amount: 20 }, headers: { 'idempotency-key': 'k-1' } });
  const twice = await call('POST', `/api/v1/auctions/${a.auction_id}/bids`, { body: { amount: 20 }, headers: { 'idempotency-key': 'k-1' } });
  t.equal(once.status, 201);
  t.equal(twice.status, 200);
  t.match(twice.body, { duplicate: true, bid_id: once.body.bid_id });
  const other = await call('POST', `/api/v1/auctions/${a.auction_id}/bids`, { body: { amount: 30 }, headers: { 'idempotency-key': 'k-1' } });
  t.match(other, { status: 409, body: { error: { code: 'request_id_conflict' } } });
});

t.test('errors are typed JSON with the right status', async (t) => {
  const { body: a } = await newAuction();
  t.match(await call('GET', '/api/v1/auctions', { token: '' }), { status: 401, body: { error: { code: 'unauthorized' } } });
  t.match(await call('GET', '/api/v1/auctions', { token: 'nope' }), { status: 401, body: { error: { code: 'invalid_token' } } });
  t.match(await call('GET', '/api/v1/auctions/not-a-uuid'), { status: 400, body: { error: { code: 'invalid_argument' } } });
  t.match(await call('GET', '/api/v1/auctions/00000000-0000-4000-8000-000000000000'), { status: 404, body: { error: { code: 'auction_not_found' } } });
  t.match(await call('GET', '/api/v1/auctions/00000000-0000-4000-8000-000000000000/bids'), { status: 404 });
  t.match(await call('GET', '/api/v1/auctions?cursor=garbage'), { status: 400, body: { error: { code: 'invalid_argument' } } });
  t.match(await call('GET', '/api/v1/auctions?limit=5000'), { status: 400 });
  t.match(await call('POST', `/api/v1/auctions/${a.auction_id}/bids`, { raw: '{"amount":' }), { status: 400, body: { error: { code: 'invalid_body' } } });
  for (const amount of [-1, 0, 1.234, 'abc', null, 1e21]) {
    t.match(await call('POST', `/api/v1/auctions/${a.auction_id}/bids`, { body: { amount } }), { status: 400, body: { error: { code: 'invalid_argument' } } }, `amount ${amount}`);
  }
  t.match(await call('POST', `/api/v1/auctions/${a.auction_id}/bids`, { body: { amount: 5, user_id: seller.userId } }), { status: 400 }, 'no user_id field');
  t.match(await call('POST', '/api/v1/auctions/00000000-0000-4000-8000-000000000000/bids', { body: { amount: 5 } }), { status: 404, body: { error: { code: 'auction_not_found' } } });
  t.match(await call('POST', '/api/v1/auctions', { token: seller.token, body: { item: { name: 'x' }, start_time: inSeconds(10), end_time: inSeconds(5), starting_price: 1 } }),
    { status: 400, body: { error: { code: 'invalid_argument' } } });
  const item = await call('POST', '/api/v1/items', { token: seller.token, body: { name: 'Unique' } });
  const open = { item_id: item.body.id, start_time: inSeconds(-1), end_time: inSeconds(3600), starting_price: 1 };
  t.equal((await call('POST', '/api/v1/auctions', { token: seller.token, body: open })).status, 201);
  t.match(await call('POST', '/api/v1/auctions', { token: seller.token, body: open }), { status: 409, body: { error: { code: 'item_has_open_auction' } } });
  t.match(await call('POST', '/api/v1/items', { token: seller.token, body: { name: '' } }), { status: 400 });
});

t.test('the OpenAPI document describes every /api/v1 route', async (t) => {
  const res = await fetch(`${inst.http}/openapi.json`);
  t.equal(res.status, 200);
  const doc = await res.json() as { openapi: string; paths: Record<string, Record<string, unknown>> };
  t.equal(doc.openapi, '3.1.0');
  const registered = [
    ['get', '/api/v1/auctions'], ['post', '/api/v1/auctions'], ['get', '/api/v1/auctions/{id}'],
    ['get', '/api/v1/auctions/{id}/bids'], ['post', '/api/v1/auctions/{id}/bids'], ['post', '/api/v1/auctions/{id}/buy-now'], ['post', '/api/v1/items'],
  ];
  for (const [method, path] of registered) {
    t.ok(inst.app.hasRoute({ method: method.toUpperCase() as 'GET', url: path.replace('{id}', ':id') }), `${method.toUpperCase()} ${path} is registered`);
    t.ok(doc.paths[path]?.[method], `${method.toUpperCase()} ${path} is documented`);
  }
  t.equal(Object.values(doc.paths).reduce((n, p) => n + Object.keys(p).length, 0), registered.length, 'and nothing else');
  // the request body is the socket's place_bid data schema, as a named component
  const full = doc as unknown as { components: { schemas: Record<string, { properties?: Record<string, unknown> }> } };
  t.match(doc.paths['/api/v1/auctions/{id}/bids'].post, { requestBody: { content: { 'application/json': { schema: { $ref: '#/components/schemas/PlaceBidInput' } } } } });
  t.match(full.components.schemas.PlaceBidInput, { properties: { amount: {}, max_amount: {} }, additionalProperties: false });
});
