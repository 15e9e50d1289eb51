import t from 'tap';
import WebSocket from 'ws';
import { freshDb } from '../helpers/db.ts';
import { connectClient, startInstance, tokenFor } from '../helpers/app.ts';
import { until } from '../helpers/wait.ts';

const db = await freshDb(t);

/** An upgrade the server refuses: its HTTP status, Retry-After and JSON body. */
async function refusedUpgrade(url: string, user: string, headers: Record<string, string> = {}) {
  const { token } = await tokenFor(user);
  const ws = new WebSocket(`${url}?token=${token}`, { headers });
  return new Promise<{ status: number; retryAfter: string | undefined; body: any }>((resolve, reject) => {
    ws.once('open', () => { ws.terminate(); reject(new Error('the upgrade was accepted')); });
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (d: Buffer) => { text += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode!, retryAfter: res.headers['retry-after'] as string | undefined, body: JSON.parse(text) }));
    });
    ws.once('error', () => {});
  });
}

t.test('a user beyond WS_MAX_SOCKETS_PER_USER is refused 429 too_many_sockets before the socket opens', async (t) => {
  const inst = await startInstance(t, db.url, { WS_MAX_SOCKETS_PER_USER: '2' });
  const a = await connectClient(t, inst, 'hoarder');
  await connectClient(t, inst, 'hoarder');
  const refused = await refusedUpgrade(inst.ws, 'hoarder');
  t.equal(refused.status, 429);
  t.match(refused.body, { error: { code: 'too_many_sockets', message: /at most 2 sockets per user/ } });
  t.equal(inst.app.userLimits.socketsOf(a.userId), 2, 'the refused upgrade holds no place');
  await connectClient(t, inst, 'someone-else');
  a.ws.close();
  await until(() => inst.app.userLimits.socketsOf(a.userId) === 1, 'the count to drop when a socket closes');
  const again = await connectClient(t, inst, 'hoarder');
  t.match(await again.request({ type: 'ping' }), { type: 'pong' }, 'a place freed is usable');
});

t.test("one bucket for all of a user's sockets: WS_USER_RATE_LIMIT_PER_SEC across sockets", async (t) => {
  const inst = await startInstance(t, db.url, { WS_USER_RATE_LIMIT_PER_SEC: '1', WS_USER_RATE_BURST: '3', WS_RATE_LIMIT_PER_SEC: '1000', WS_RATE_BURST: '1000' });
  const socks = [await connectClient(t, inst, 'spreader'), await connectClient(t, inst, 'spreader'), await connectClient(t, inst, 'spreader')];
  // two pings per socket: each socket is far under its own limit, the user is over the shared one
  for (const c of socks) for (let i = 0; i < 2; i++) c.send({ type: 'ping' });
  // every ping is answered, with a pong or a refusal
  await until(() => socks.every((c) => c.messages.length === 2), 'six answers');
  const all = socks.flatMap((c) => c.messages);
  const limited = all.filter((m) => m.error?.code === 'rate_limited');
  t.ok(limited.length >= 2, `at least two of six refused (got ${limited.length})`);
  t.match(limited[0]?.error?.message, /across this user's sockets/);
  t.equal(all.filter((m) => m.type === 'pong').length + limited.length, 6);
  const other = await connectClient(t, inst, 'quiet');
  t.match(await other.request({ type: 'ping' }), { type: 'pong' }, 'another user has a bucket of their own');
});

t.test('WS_UPGRADES_PER_IP_PER_MIN: upgrades from one address beyond it are refused 429 rate_limited', async (t) => {
  const inst = await startInstance(t, db.url, { WS_UPGRADES_PER_IP_PER_MIN: '3' });
  for (const u of ['ip-1', 'ip-2', 'ip-3']) await connectClient(t, inst, u);
  const refused = await refusedUpgrade(inst.ws, 'ip-4');
  t.equal(refused.status, 429);
  t.match(refused.body, { error: { code: 'rate_limited', message: /upgrades per minute/ } });
  t.ok(Number(refused.retryAfter) >= 1, 'with Retry-After');
  const spoofed = await refusedUpgrade(inst.ws, 'ip-5', { 'x-forwarded-for': '203.0.113.9' });
  t.equal(spoofed.status, 429, 'X-Forwarded-For is not believed without TRUST_PROXY');
});

t.test('with TRUST_PROXY the per-IP limit sees the forwarded client address', async (t) => {
  const inst = await startInstance(t, db.url, { WS_UPGRADES_PER_IP_PER_MIN: '1', TRUST_PROXY: '127.0.0.1' });
  await connectClient(t, inst, 'px-1', { headers: { 'x-forwarded-for': '203.0.113.1' } });
  const refused = await refusedUpgrade(inst.ws, 'px-2', { 'x-forwarded-for': '203.0.113.1' });
  t.equal(refused.status, 429, 'the same client behind the proxy is limited');
  const other = await connectClient(t, inst, 'px-3', { headers: { 'x-forwarded-for': '203.0.113.2' } });
  t.match(await other.request({ type: 'ping' }), { type: 'pong' }, 'another client behind the same proxy is not');
});
