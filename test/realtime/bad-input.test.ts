import t from 'tap';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { freshDb } from '../helpers/db.ts';
import { Client, TEST_SECRET, connectClient, startInstance, tokenFor } from '../helpers/app.ts';
import { auctionInput, inSeconds } from '../helpers/fixtures.ts';
import { build } from '../../src/build.ts';
import { loadConfig } from '../../src/config.ts';

// Bad input gets a typed error: never `internal`, never the database's own text, and nothing is stored.
const db = await freshDb(t);
const inst = await startInstance(t, db.url);
const seller = await tokenFor('bad-input-seller');

async function call(method: string, path: string, opts: { token?: string; body?: unknown } = {}) {
  const headers: Record<string, string> = { authorization: `Bearer ${opts.token ?? seller.token}` };
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${inst.http}${path}`, { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  return { status: res.status, text: await res.text() };
}

/** The reply to one socket message, whatever its request_id became. */
async function reply(c: Client, m: Record<string, unknown>) {
  const from = c.messages.length;
  c.send(m);
  return c.next(() => true, 5000, from);
}

const counts = async () => (await db.sql`
  select (select count(*) from auction.items)::int as items, (select count(*) from auction.auctions)::int as auctions,
         (select count(*) from auction.users)::int as users`)[0];

t.test('NUL in any inbound string: invalid_message on the socket, 400 over REST, nothing stored', async (t) => {
  const c = await connectClient(t, inst, 'bad-input-seller');
  const before = await counts();
  const socketProbes: [string, Record<string, unknown>][] = [
    ['item name', { type: 'create_auction', request_id: 'r1', data: auctionInput({ item: { name: 'lamp\u0000' } }) }],
    ['item description', { type: 'create_auction', request_id: 'r2', data: auctionInput({ item: { name: 'lamp', description: 'a\u0000b' } }) }],
    ['request_id', { type: 'ping', request_id: 'r\u00003' }],
    ['cursor', { type: 'list_auctions', request_id: 'r4', data: { cursor: 'abc\u0000' } }],
  ];
  for (const [what, m] of socketProbes) {
    const r = await reply(c, m);
    t.equal(r.type, 'error', what);
    t.equal(r.error?.code, 'invalid_message', what);
    t.match(r.error?.message, /NUL/, what);
    t.notMatch(JSON.stringify(r), /22021|UTF8|encoding/, `${what}: no database text`);
  }
  const restProbes: [string, string, string, unknown][] = [
    ['item name', 'POST', '/api/v1/items', { name: 'vase\u0000' }],
    ['item description', 'POST', '/api/v1/items', { name: 'vase', description: '\u0000' }],
    ['auction item name', 'POST', '/api/v1/auctions', { item: { name: '\u0000' }, end_time: inSeconds(3600), starting_price: 10 }],
    ['cursor', 'GET', `/api/v1/auctions?cursor=${encodeURIComponent('x\u0000')}`, undefined],
  ];
  for (const [what, method, path, body] of restProbes) {
    const r = await call(method, path, { body });
    t.equal(r.status, 400, what);
    t.match(JSON.parse(r.text), { error: { code: 'invalid_argument', message: /NUL/ } }, what);
    t.notMatch(r.text, /22021|UTF8|encoding/, `${what}: no database text`);
  }
  t.same(await counts(), before, 'nothing was stored');
});

t.test("a token whose name claim holds NUL is refused (401 invalid_token) at the upgrade and over REST", async (t) => {
  const before = await counts();
  const token = await new SignJWT({ name: 'eve\u0000' }).setProtectedHeader({ alg: 'HS256' }).setSubject(randomUUID())
    .setIssuer('auction-service').setAudience('auction-service').setIssuedAt().setExpirationTime('10m')
    .sign(new TextEncoder().encode(TEST_SECRET));
  const upgrade = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const ws = new WebSocket(`${inst.ws}?token=${token}`);
    ws.once('open', () => { ws.terminate(); reject(new Error('the upgrade was accepted')); });
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (b: Buffer) => { body += b.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
  });
  t.equal(upgrade.status, 401);
  t.match(JSON.parse(upgrade.body), { error: { code: 'invalid_token', message: /NUL/ } });
  t.notMatch(upgrade.body, /22021|UTF8|encoding/);
  const rest = await call('POST', '/api/v1/items', { token, body: { name: 'vase' } });
  t.equal(rest.status, 401);
  t.match(JSON.parse(rest.text), { error: { code: 'invalid_token' } });
  t.same(await counts(), before, 'no user was stored');
});

t.test('the upgrade answers a database failure in the API shape with a fixed sentence', async (t) => {
  // the user upsert fails with Postgres's own words (42883, a function that does not exist), which no map knows
  const other = await startInstance(t, db.url);
  const { token } = await tokenFor('upgrade-db-failure');
  await db.sql`alter function auction.ensure_user(uuid, text) rename to ensure_user_gone`;
  t.teardown(() => db.sql`alter function auction.ensure_user_gone(uuid, text) rename to ensure_user`);
  const upgrade = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const ws = new WebSocket(`${other.ws}?token=${token}`);
    ws.once('open', () => { ws.terminate(); reject(new Error('the upgrade was accepted')); });
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (b: Buffer) => { body += b.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
  });
  t.equal(upgrade.status, 500);
  t.same(JSON.parse(upgrade.body), { error: { code: 'internal', message: 'internal error' } });
});

t.test('impossible or offset-less times are refused, not shifted; valid RFC 3339 forms still work', async (t) => {
  const c = await connectClient(t, inst, 'bad-input-seller');
  const before = await counts();
  const bad = ['2031-02-30T00:00:00Z', '2031-13-01T00:00:00Z', '2031-04-31T00:00:00Z', '2031-01-01T24:00:00Z', '2031-01-01T00:60:00Z',
    '2031-01-01T00:00:60Z', '2031-01-01T00:00:00', '2031-01-01T00:00:00+24:00', '2031-01-01 00:00:00Z', '2031-02-29T00:00:00Z', '2031-1-01T00:00:00Z'];
  for (const end of bad) {
    const r = await reply(c, { type: 'create_auction', request_id: `d-${end}`, data: { ...auctionInput(), end_time: end } });
    t.equal(r.error?.code, 'invalid_message', `socket: ${end}`);
    const h = await call('POST', '/api/v1/auctions', { body: { item: { name: 'clock' }, end_time: end, starting_price: 10 } });
    t.equal(h.status, 400, `REST: ${end}`);
    t.match(JSON.parse(h.text), { error: { code: 'invalid_argument', details: [{ path: 'body.end_time' }] } }, `REST: ${end}`);
  }
  t.same(await counts(), before, 'nothing was stored');
  const good: [string, string][] = [
    ['2031-02-28T00:00:00Z', '2031-02-28T00:00:00.000Z'],
    ['2032-02-29T12:00:00+02:00', '2032-02-29T10:00:00.000Z'],
    ['2031-03-01T00:00:00.123456-05:30', '2031-03-01T05:30:00.123Z'],
    ['2031-03-01t00:00:00z', '2031-03-01T00:00:00.000Z'],
  ];
  for (const [end, utc] of good) {
    const r = await reply(c, { type: 'create_auction', request_id: `g-${end}`, data: { ...auctionInput(), end_time: end } });
    t.equal(r.type, 'auction_created', end);
    const [row] = await db.sql<{ end_time: Date }[]>`select end_time from auction.auctions where id = ${r.auction_id!}`;
    t.equal(row.end_time.toISOString(), utc, `${end} is stored as the instant it names`);
  }
});

t.test('a cursor that does not decode to a position the server wrote is invalid_argument', async (t) => {
  const c = await connectClient(t, inst, 'bad-input-seller');
  await c.createAuction();
  await c.createAuction();
  const first = await c.request({ type: 'list_auctions', data: { limit: 1 } });
  const real = first.data.next_cursor as string;
  t.type(real, 'string');
  const next = await c.request({ type: 'list_auctions', data: { limit: 1, cursor: real } });
  t.equal(next.type, first.type, 'the server\'s own cursor pages on');
  const restNext = await call('GET', `/api/v1/auctions?limit=1&cursor=${real}`);
  t.equal(restNext.status, 200);

  const b64 = (s: string) => Buffer.from(s).toString('base64url');
  const id = randomUUID();
  const crafted = [
    b64(`+275760-09-13T00:00:00.000Z|${id}`),
    b64(`2031-02-30T00:00:00.000Z|${id}`),
    b64(`2031-01-01T00:00:00Z|${id}`),
    b64(`2031-01-01T00:00:00.000Z|${id.toUpperCase()}`),
    b64(`2031-01-01T00:00:00.000Z|${id}|x`),
    `${real}==`,
    'garbage',
    b64('|'),
    b64(randomUUID()),
  ];
  for (const cursor of crafted) {
    const r = await c.request({ type: 'list_auctions', data: { cursor } });
    t.match(r, { type: 'error', error: { code: 'invalid_argument', message: 'invalid cursor' } }, `socket: ${cursor}`);
    const h = await call('GET', `/api/v1/auctions?cursor=${encodeURIComponent(cursor)}`);
    t.equal(h.status, 400, `REST: ${cursor}`);
    t.match(JSON.parse(h.text), { error: { code: 'invalid_argument', message: 'invalid cursor' } }, `REST: ${cursor}`);
  }
});

t.test('oversized and non-UTF-8 frames are logged as the client\'s fault: one warn line, no stack', async (t) => {
  const lines: { level: number; msg: string; err?: unknown; ws_error?: string }[] = [];
  const sink = new Writable({ write(chunk, _enc, cb) { for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l)); cb(); } });
  const app = await build({ config: loadConfig({ DATABASE_URL: db.url, JWT_SECRET: TEST_SECRET, PORT: '0', LOG_LEVEL: 'info', WS_MAX_FRAME_BYTES: '1024' }), logStream: sink });
  await app.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(() => app.close());
  const { port } = app.server.address() as { port: number };
  const inst2 = { ws: `ws://127.0.0.1:${port}/ws` };

  const big = await connectClient(t, inst2, 'frame-sender');
  big.send('x'.repeat(2048));
  t.equal(await big.closed(), 1009);
  const bad = await connectClient(t, inst2, 'frame-sender');
  bad.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
  t.equal(await bad.closed(), 1007);
  await app.close();

  const faults = lines.filter((l) => /client fault/.test(l.msg));
  t.match(faults, [
    { level: 40, ws_error: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', msg: /oversized frame; closed with 1009/ },
    { level: 40, ws_error: 'WS_ERR_INVALID_UTF8', msg: /not UTF-8; closed with 1007/ },
  ]);
  t.equal(faults.length, 2);
  t.notOk(faults.some((l) => 'err' in l || /stack/.test(JSON.stringify(l))), 'no error object, no stack');
  t.same(lines.filter((l) => l.level >= 50), [], 'nothing at error level');
});
