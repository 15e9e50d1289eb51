import t from 'tap';
import { SignJWT } from 'jose';
import { Writable } from 'node:stream';
import WebSocket from 'ws';
import { freshDb } from '../helpers/db.ts';
import { Client, TEST_SECRET, connectClient, startInstance, tokenFor } from '../helpers/app.ts';
import { build } from '../../src/build.ts';
import { loadConfig } from '../../src/config.ts';

const db = await freshDb(t);
const inst = await startInstance(t, db.url, { ALLOWED_ORIGINS: 'https://auction.example' });

/** The HTTP status of a refused upgrade, or 101 when the socket opened. */
function upgrade(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => { ws.terminate(); resolve(101); });
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('error', () => resolve(0));
  });
}

const key = new TextEncoder().encode(TEST_SECRET);
const sign = (claims: { sub?: string; aud?: string; iss?: string; exp?: number }, alg = 'HS256', k: Uint8Array = key) => {
  const jwt = new SignJWT({}).setProtectedHeader({ alg }).setIssuedAt()
    .setIssuer(claims.iss ?? 'auction-service').setAudience(claims.aud ?? 'auction-service')
    .setExpirationTime(claims.exp ?? Math.floor(Date.now() / 1000) + 600);
  if (claims.sub !== undefined) jwt.setSubject(claims.sub);
  return jwt.sign(k);
};
const sub = '11111111-1111-4111-8111-111111111111';

t.test('tokens that must be refused at the upgrade', async (t) => {
  const cases: [string, string][] = [
    ['no token', ''],
    ['expired', await sign({ sub, exp: Math.floor(Date.now() / 1000) - 10 })],
    ['wrong signature', await sign({ sub }, 'HS256', new TextEncoder().encode('another-secret-another-secret-0123456'))],
    ['wrong algorithm (HS512)', await sign({ sub }, 'HS512')],
    ['alg none', `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub, aud: 'auction-service', iss: 'auction-service', exp: 9e9 })).toString('base64url')}.`],
    ['wrong audience', await sign({ sub, aud: 'someone-else' })],
    ['wrong issuer', await sign({ sub, iss: 'someone-else' })],
    ['subject not a UUID', await sign({ sub: 'alice' })],
    ['garbage', 'not.a.jwt'],
  ];
  for (const [name, token] of cases) {
    t.equal(await upgrade(`${inst.ws}${token ? `?token=${token}` : ''}`), 401, name);
    if (token) t.equal(await upgrade(inst.ws, { authorization: `Bearer ${token}` }), 401, `${name} (header)`);
  }
  t.equal(await upgrade(`${inst.ws}?token=${await sign({ sub })}`), 101, 'a good token opens');
  t.equal(await upgrade(`${inst.ws}?user_id=${sub}`), 401, '?user_id= is off by default');
});

t.test('?user_id= works only when explicitly allowed', async (t) => {
  const open = await startInstance(t, db.url, { AUTH_ALLOW_USER_ID_PARAM: 'true' });
  t.equal(await upgrade(`${open.ws}?user_id=${sub}`), 101);
  t.equal(await upgrade(`${open.ws}?user_id=alice`), 401, 'still a UUID');
});

t.test('origins outside the allow-list are refused', async (t) => {
  const token = await sign({ sub });
  t.equal(await upgrade(`${inst.ws}?token=${token}`, { origin: 'https://evil.example' }), 403);
  t.equal(await upgrade(`${inst.ws}?token=${token}`, { origin: 'https://auction.example' }), 101);
  t.equal(await upgrade(`${inst.ws}?token=${token}`), 101, 'no Origin: not a browser');
});

t.test('a user cannot bid as another: the bidder is always the token subject', async (t) => {
  const seller = await connectClient(t, inst, 'auth-seller');
  const mallory = await connectClient(t, inst, 'mallory');
  const alice = await tokenFor('alice');
  const id = await seller.createAuction({ item: { name: 'Target' }, startingPrice: 1 });
  t.match(await mallory.request({ type: 'place_bid', auction_id: id, user_id: alice.userId, data: { amount: 5 } }),
    { type: 'error', error: { code: 'invalid_message' } }, 'a user_id field is refused');
  t.match(await mallory.request({ type: 'place_bid', auction_id: id, data: { amount: 5, user_id: alice.userId } }),
    { type: 'error', error: { code: 'invalid_message' } });
  t.match(await mallory.request({ type: 'place_bid', auction_id: id, data: { amount: 5 } }), { type: 'bid_accepted' });
  const rows = await db.sql`select user_id from auction.bids where auction_id = ${id!}`;
  t.same(rows.map((r) => r.user_id), [mallory.userId]);
});

t.test('tokens never appear in logs', async (t) => {
  const lines: string[] = [];
  const sink = new Writable({ write(chunk, _enc, cb) { lines.push(chunk.toString()); cb(); } });
  const config = loadConfig({ DATABASE_URL: db.url, JWT_SECRET: TEST_SECRET, PORT: '0', LOG_LEVEL: 'trace' });
  const app = await build({ config, logStream: sink });
  await app.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(() => app.close());
  const { port } = app.server.address() as { port: number };
  const { token, userId } = await tokenFor('logged');
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?token=${token}`, { headers: { authorization: `Bearer ${token}` } });
  const c = new Client(ws, userId);
  await new Promise((r) => ws.once('open', r));
  t.match(await c.request({ type: 'ping' }), { type: 'pong' });
  await fetch(`http://127.0.0.1:${port}/health?token=${token}`, { headers: { authorization: `Bearer ${token}` } });
  ws.terminate();
  t.ok(lines.length > 0, 'something was logged');
  t.notOk(lines.some((l) => l.includes(token)), 'the token is in no log line');
  t.notOk(lines.some((l) => l.includes(token.split('.')[2])), 'nor its signature');
  t.ok(lines.some((l) => l.includes('[redacted]')), 'the query token shows as [redacted]');
});
