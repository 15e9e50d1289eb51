// deploy/nginx.conf, run by Debian's nginx in front of two real instances: the file compose.yaml mounts,
// with only the upstream list (upstream.conf) and the listen address replaced.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, watch } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import type { IncomingHttpHeaders } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freshDb } from '../helpers/db.ts';
import { makeAuction } from '../helpers/fixtures.ts';
import { connectClient, startInstance, tokenFor, type Instance } from '../helpers/app.ts';

const NGINX = '/usr/sbin/nginx';
const deploy = new URL('../../deploy/', import.meta.url);
const LISTEN = 'listen 8080;';

/** deploy/nginx.conf as is, but for its listen line; upstream.conf names the given servers. */
async function renderConfig(dir: string, port: number, servers: string[]) {
  const conf = await readFile(new URL('nginx.conf', deploy), 'utf8');
  const listens = conf.split(LISTEN).length - 1;
  if (listens !== 1) throw new Error(`deploy/nginx.conf has ${listens} \`${LISTEN}\` lines; this test replaces exactly one`);
  await writeFile(join(dir, 'nginx.conf'), conf.replace(LISTEN, `listen 127.0.0.1:${port};`));
  await writeFile(join(dir, 'upstream.conf'), servers.map((s) => `server ${s};\n`).join(''));
}

function freePort() {
  return new Promise<number>((resolve, reject) => {
    const srv = createServer().once('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

type Nginx = { http: string; ws: string; port: number; accessLog: (pred: (lines: string[]) => boolean) => Promise<string[]> };

/** nginx in the foreground on a free loopback port; ready once it starts a worker (it binds before). */
async function startNginx(t: Test, servers: string[]): Promise<Nginx> {
  const dir = await mkdtemp(join(tmpdir(), 'auction-nginx-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    await renderConfig(dir, port, servers);
    // the access log goes to stdout: a file here, since nginx cannot open /dev/stdout on node's socket pair
    const logFile = join(dir, 'access.log');
    const out = await open(logFile, 'w');
    const child = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', 'stderr',
      '-g', `daemon off; pid ${join(dir, 'nginx.pid')}; error_log stderr notice;`], { stdio: ['ignore', out.fd, 'pipe'] });
    await out.close();
    let stderr = '';
    const started = await new Promise<boolean>((resolve) => {
      child.stderr!.setEncoding('utf8').on('data', (s: string) => {
        stderr += s;
        if (stderr.includes('start worker process')) resolve(true);
      });
      child.once('close', () => resolve(false)); // after its stderr is read to the end
    });
    if (!started) {
      // another process took the port between freePort() and nginx's bind
      if (stderr.includes('Address already in use') && attempt < 3) continue;
      throw new Error(`nginx did not start:\n${stderr}`);
    }
    const kill = () => child.kill('SIGTERM');
    process.once('exit', kill);
    t.teardown(async () => {
      process.off('exit', kill);
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      kill();
      await exited;
    });
    const accessLog = (pred: (lines: string[]) => boolean) => new Promise<string[]>((resolve, reject) => {
      let text = '';
      const done = (err?: Error) => {
        watcher.close();
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(text.split('\n').filter(Boolean));
      };
      const check = async () => {
        text = await readFile(logFile, 'utf8');
        if (pred(text.split('\n').filter(Boolean))) done();
      };
      const watcher = watch(logFile, () => { check().catch(done); });
      const timer = setTimeout(() => done(new Error(`access log so far:\n${text}`)), 5000);
      check().catch(done);
    });
    return { port, http: `http://127.0.0.1:${port}`, ws: `ws://127.0.0.1:${port}/ws`, accessLog };
  }
}

/** What an instance's HTTP server was asked: upgrade requests and plain requests, with their headers. */
function observe(inst: Instance) {
  const seen = { upgrades: [] as IncomingHttpHeaders[], requests: [] as { url: string; headers: IncomingHttpHeaders }[] };
  inst.app.server.on('upgrade', (req) => { seen.upgrades.push(req.headers); });
  inst.app.server.on('request', (req) => { seen.requests.push({ url: req.url ?? '', headers: req.headers }); });
  return seen;
}

if (!existsSync(NGINX)) {
  const skip = `${NGINX} is missing: \`make nginx\` installs it as root (Debian's nginx package)`;
  t.test('WebSocket, /health and REST through nginx', { skip }, async () => {});
} else {
  const db = await freshDb(t);
  const instances = [await startInstance(t, db.url), await startInstance(t, db.url)];
  const watched = instances.map(observe);
  const addr = (i: Instance) => new URL(i.http).host;
  const lb = await startNginx(t, instances.map(addr));
  const lbHost = `127.0.0.1:${lb.port}`;
  const auction = await makeAuction(db.sql, { startingPrice: '5.00' });
  const tokens: string[] = [];

  /** Connects through nginx and tells which instance took the upgrade. */
  async function connectVia(t: Test, user: string, headers: Record<string, string> = {}) {
    const before = watched.map((w) => w.upgrades.length);
    const client = await connectClient(t, lb, user, { headers });
    const landed = watched.map((w, i) => w.upgrades.length - before[i]);
    t.equal(landed.reduce((x, y) => x + y), 1, `${user}'s upgrade reached one instance`);
    return { client, on: landed.indexOf(1), headers: watched[landed.indexOf(1)].upgrades.at(-1)! };
  }

  t.test('a WebSocket session through nginx: subscribed on one instance, a bid on the other is heard', async (t) => {
    // a browser on the load balancer's page: same origin as the Host nginx passes on
    const watcher = await connectVia(t, 'lb-watcher', { origin: lb.http, 'x-forwarded-for': '203.0.113.9' });
    const bidder = await connectVia(t, 'lb-bidder');
    t.not(bidder.on, watcher.on, 'least_conn puts the second socket on the other instance');
    t.match(watcher.headers, { upgrade: 'websocket', connection: 'upgrade', host: lbHost, 'x-forwarded-for': '203.0.113.9, 127.0.0.1' },
      'the instance sees the upgrade, the client\'s Host with its port, and the forwarded-for chain');
    t.equal(bidder.headers['x-forwarded-for'], '127.0.0.1');
    tokens.push(...[watcher, bidder].map((c) => new URL(c.client.ws.url).searchParams.get('token')!));

    const sub = await watcher.client.request({ type: 'subscribe', auction_id: auction.id });
    t.match(sub, { type: 'auction_update', data: { subscribed: true } });
    const placed = await bidder.client.request({ type: 'place_bid', auction_id: auction.id, data: { amount: 7 } });
    t.equal(placed.type, 'bid_accepted');
    const heard = await watcher.client.next((m) => m.type === 'bid_placed' && m.auction_id === auction.id);
    t.match(heard, { seq: 1, data: { bid_id: placed.data.bid_id, user_id: bidder.client.userId, amount: 7 } });

    // nginx logs a socket when it closes: one line per instance, and no token from the query string
    watcher.client.ws.close();
    bidder.client.ws.close();
    const isSocket = (l: string) => l.includes('"GET /ws') && l.includes('" 101 ');
    const lines = await lb.accessLog((ls) => ls.filter(isSocket).length === 2);
    const ws = lines.filter(isSocket);
    t.same(ws.map((l) => l.match(/upstream=(\S+)/)?.[1]).sort(), [watcher, bidder].map((c) => addr(instances[c.on])).sort(),
      'the access log names the instance of each socket');
    t.notOk(lines.some((l) => tokens.some((tok) => l.includes(tok))), 'no token in the access log');
  });

  t.test('/health and REST through nginx', async (t) => {
    const health = await fetch(`${lb.http}/health`);
    t.equal(health.status, 200);
    t.same(await health.json(), { status: 'ok', service: 'auction-websocket' });

    const seller = await tokenFor('lb-seller');
    const post = (path: string, body: unknown) => fetch(`${lb.http}${path}`, {
      method: 'POST', body: JSON.stringify(body),
      headers: { authorization: `Bearer ${seller.token}`, 'content-type': 'application/json', 'x-forwarded-for': '198.51.100.4' } });
    const item = await post('/api/v1/items', { name: 'Clock', description: 'via nginx' });
    t.equal(item.status, 201);
    t.match(await item.json(), { name: 'Clock', owner_id: seller.userId });
    const seen = watched.flatMap((w) => w.requests).find((r) => r.url === '/api/v1/items');
    t.match(seen?.headers, { host: lbHost, 'x-forwarded-for': '198.51.100.4, 127.0.0.1', authorization: `Bearer ${seller.token}` },
      'the instance sees the Host, the forwarded-for chain and the bearer token');

    const read = await fetch(`${lb.http}/api/v1/auctions/${auction.id}`, { headers: { authorization: `Bearer ${seller.token}` } });
    t.equal(read.status, 200);
    t.match(await read.json(), { auction_id: auction.id, current_price: 7, seq: 1 }, 'REST reads the bid placed over the socket');
    const missing = await fetch(`${lb.http}/api/v1/auctions/${randomUUID()}`, { headers: { authorization: `Bearer ${seller.token}` } });
    t.equal(missing.status, 404, 'an instance\'s error status passes through as is');
    t.match(await missing.json(), { error: { code: 'auction_not_found' } });
  });
}

t.test('compose.yaml mounts every file deploy/nginx.conf includes, and upstream.conf names its services', async (t) => {
  const conf = await readFile(new URL('nginx.conf', deploy), 'utf8');
  const compose = await readFile(new URL('../compose.yaml', deploy), 'utf8');
  const includes = [...conf.matchAll(/^\s*include\s+(\S+);/gm)].map((m) => m[1]);
  t.ok(includes.length > 0, 'nginx.conf includes its upstream list');
  for (const file of includes) t.ok(compose.includes(`./deploy/${file}:/etc/nginx/${file}:ro`), `compose.yaml mounts ${file}`);
  const upstream = await readFile(new URL('upstream.conf', deploy), 'utf8');
  const servers = [...upstream.matchAll(/^\s*server\s+([\w.-]+):(\d+);/gm)];
  t.ok(servers.length >= 2, 'at least two instances');
  for (const [, host, port] of servers) {
    const service = compose.match(new RegExp(`^  ${host}:\\n((?:    .*\\n|\\n)*)`, 'm'));
    t.ok(service, `compose.yaml has a service ${host}`);
    t.match(service?.[1], new RegExp(`PORT: "${port}"`), `${host} listens on ${port}`);
  }
});
