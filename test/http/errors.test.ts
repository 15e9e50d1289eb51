import t, { type Test } from 'tap';
import { connect } from 'node:net';
import { freshDb } from '../helpers/db.ts';
import { connectClient, startInstance, tokenFor } from '../helpers/app.ts';
import { inSeconds } from '../helpers/fixtures.ts';
import { bidRejection, errorBody } from '../../src/protocol/views.ts';

const db = await freshDb(t);
const inst = await startInstance(t, db.url);
const { token } = await tokenFor('errors-bidder');
const seller = await tokenFor('errors-seller');

type Answer = { status: number; type: string | null; body: any };

async function send(method: string, path: string, opts: { body?: string; type?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}`, ...opts.headers };
  if (opts.type) headers['content-type'] = opts.type;
  const res = await fetch(`${inst.http}${path}`, { method, headers, body: opts.body, redirect: 'manual' });
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type'), body: text ? JSON.parse(text) : null };
}

/** The API's error shape, exactly, with a one-line message. */
function isError(t: Test, a: Answer, status: number, code: string) {
  t.equal(a.status, status, `status ${status}`);
  t.match(a.type, /^application\/json/);
  const parsed = errorBody.safeParse(a.body);
  t.ok(parsed.success, `the error shape: ${JSON.stringify(a.body)}`);
  t.equal(a.body?.error?.code, code);
  t.notMatch(a.body?.error?.message ?? '', /[\n✖→]/, 'a plain one-line message');
}

const created = await send('POST', '/api/v1/auctions', { type: 'application/json', headers: { authorization: `Bearer ${seller.token}` },
  body: JSON.stringify({ item: { name: 'Errors' }, start_time: inSeconds(-1), end_time: inSeconds(3600), starting_price: 10 }) });
const auction = created.body as { auction_id: string };
const bids = `/api/v1/auctions/${auction.auction_id}/bids`;

t.test("fastify's own errors answer in the API's shape", async (t) => {
  const nope = await send('GET', '/api/v1/nope');
  isError(t, nope, 404, 'not_found');
  t.equal(nope.body.error.message, 'no route matches GET /api/v1/nope');
  isError(t, await send('DELETE', bids), 404, 'not_found');
  isError(t, await send('POST', bids, { type: 'application/json', body: '{"amount":' }), 400, 'invalid_body');
  isError(t, await send('POST', bids, { type: 'application/json', body: '' }), 400, 'invalid_body');
  isError(t, await send('POST', bids, { type: 'application/json', body: '{"__proto__":{"amount":1}}' }), 400, 'invalid_body');
  isError(t, await send('POST', bids, { type: 'text/plain', body: 'amount=5' }), 415, 'unsupported_media_type');
  const big = await send('POST', bids, { type: 'application/json', body: JSON.stringify({ amount: 5, pad: 'x'.repeat(70_000) }) });
  isError(t, big, 413, 'body_too_large');
  t.equal(big.body.error.message, 'the body is larger than 65536 bytes');
  isError(t, await send('GET', '/api/v1/auctions/%E0%A4%A'), 400, 'invalid_url');
});

/** Raw bytes to the server; its whole answer (it closes the connection after a refused request). */
function raw(bytes: string): Promise<string> {
  const { port } = new URL(inst.http);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => socket.write(bytes));
    let answer = '';
    socket.on('data', (d) => { answer += d; });
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
  });
}

t.test("a request node's HTTP parser refuses answers in the API's shape", async (t) => {
  const bad = await raw('GET /health HTTP/1.1\r\nHost: x\r\nNot a header\r\n\r\n');
  t.match(bad, /^HTTP\/1\.1 400 Bad Request\r\n/);
  t.same(JSON.parse(bad.split('\r\n\r\n')[1]), { error: { code: 'bad_request', message: 'the request is not valid HTTP' } });
  const huge = await raw(`GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
  t.match(huge, /^HTTP\/1\.1 431 /);
  t.match(JSON.parse(huge.split('\r\n\r\n')[1]), { error: { code: 'headers_too_large' } });
});

t.test('validation errors list each field as {path, message}', async (t) => {
  const body = await send('POST', bids, { type: 'application/json', body: JSON.stringify({ amount: 'abc', user_id: 'x' }) });
  isError(t, body, 400, 'invalid_argument');
  t.same(body.body.error.details.map((d: { path: string }) => d.path).sort(), ['body.amount', 'body.user_id']);
  t.match(body.body.error.details, [{ message: String }, { message: String }]);
  t.match(body.body.error.message, /^the request body is invalid: /);
  t.match(body.body.error.details.find((d: { path: string }) => d.path === 'body.user_id'), { message: 'is not a known field' });

  const nested = await send('POST', '/api/v1/auctions', { type: 'application/json', body: JSON.stringify({
    item: { name: '' }, start_time: 'soon', end_time: inSeconds(60), starting_price: 1, increment_table: [{ step: -1 }] }) });
  isError(t, nested, 400, 'invalid_argument');
  t.same(nested.body.error.details.map((d: { path: string }) => d.path).sort(), ['body.increment_table.0.step', 'body.item.name', 'body.start_time']);

  const refined = await send('POST', bids, { type: 'application/json', body: '{}' });
  isError(t, refined, 400, 'invalid_argument');
  t.same(refined.body.error.details, [{ path: 'body', message: 'give amount, max_amount (a proxy bid), or both' }], 'a rule on the whole body is at its root');

  const query = await send('GET', '/api/v1/auctions?limit=5000&status=open');
  isError(t, query, 400, 'invalid_argument');
  t.same(query.body.error.details.map((d: { path: string }) => d.path).sort(), ['query.limit', 'query.status']);
  t.match(query.body.error.message, /^the query string is invalid: query\.limit: .+; query\.status: /);

  const path = await send('GET', '/api/v1/auctions/not-a-uuid');
  isError(t, path, 400, 'invalid_argument');
  t.same(path.body.error.details, [{ path: 'path.id', message: 'must be a UUID' }]);

  const header = await send('POST', bids, { type: 'application/json', body: '{"amount":10}', headers: { 'idempotency-key': 'k'.repeat(200) } });
  isError(t, header, 400, 'invalid_argument');
  t.match(header.body.error.details, [{ path: 'header.idempotency-key' }]);

  const many = await send('POST', bids, { type: 'application/json', body: JSON.stringify(Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`x${i}`, i]))) });
  isError(t, many, 400, 'invalid_argument');
  t.equal(many.body.error.details.length, 20, 'at most 20 details');
  t.match(many.body.error.message, /; and \d+ more$/);
});

t.test('API errors keep their shape; a rejected bid adds what would be accepted', async (t) => {
  isError(t, await send('GET', '/api/v1/auctions', { headers: { authorization: '' } }), 401, 'unauthorized');
  isError(t, await send('GET', '/api/v1/auctions/00000000-0000-4000-8000-000000000000'), 404, 'auction_not_found');
  isError(t, await send('GET', '/api/v1/auctions?cursor=garbage'), 400, 'invalid_argument');
  const low = await send('POST', bids, { type: 'application/json', body: '{"amount":1}' });
  t.equal(low.status, 409);
  t.match(bidRejection.parse(low.body), { error: { code: 'too_low', message: 'bid must be at least 10.00' }, reason: 'too_low', min_next_bid: 10 });
});

t.test("no answer carries the database's own error text", async (t) => {
  // year 0 passes the RFC 3339 check but not Postgres's timestamptz: a database error, mapped
  const r = await send('POST', '/api/v1/auctions', { type: 'application/json', body: JSON.stringify({
    item: { name: 'Ancient' }, start_time: '0000-01-01T00:00:00Z', end_time: inSeconds(3600), starting_price: 1 }) });
  isError(t, r, 400, 'invalid_argument');
  t.equal(r.body.error.message, 'a time is out of range');
});

t.test('GET / redirects to the live page', async (t) => {
  const r = await fetch(`${inst.http}/`, { redirect: 'manual' });
  t.equal(r.status, 302);
  t.equal(r.headers.get('location'), '/live');
});

t.test("the socket's invalid_message carries the same details", async (t) => {
  const c = await connectClient(t, inst, 'errors-socket');
  const r = await c.request({ type: 'place_bid', auction_id: auction.auction_id, data: { amount: 'abc', extra: 1 } });
  t.match(r, { type: 'error', error: { code: 'invalid_message' } });
  t.same(r.error && (r.error as { details?: { path: string }[] }).details?.map((d) => d.path).sort(), ['data.amount', 'data.extra']);
  t.match(r.error?.message, /^the message is invalid: data\.amount: .+; data\.extra: is not a known field$/);
  t.notMatch(r.error?.message, /[\n✖→]/);
  const top = await c.request({ type: 'get_auction', auction_id: auction.auction_id, user_id: 'x' });
  t.match(top, { error: { code: 'invalid_message', details: [{ path: 'user_id', message: 'is not a known field' }] } });
});
