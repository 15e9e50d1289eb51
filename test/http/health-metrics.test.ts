import t from 'tap';
import { Writable } from 'node:stream';
import { build } from '../../src/build.ts';
import { loadConfig } from '../../src/config.ts';
import { freshDb } from '../helpers/db.ts';
import { TEST_SECRET, connectClient, startInstance } from '../helpers/app.ts';

const db = await freshDb(t);
const inst = await startInstance(t, db.url);

t.test('/health answers; /ready reports the database, LISTEN and jobs', async (t) => {
  const health = await fetch(`${inst.http}/health`);
  t.equal(health.status, 200);
  const ready = await fetch(`${inst.http}/ready`);
  t.equal(ready.status, 200);
  t.match(await ready.json(), { status: 'ready', checks: { database: true, listen: true, jobs: true } });
});

t.test('/metrics exposes bids by outcome, latency, connections and notify lag', async (t) => {
  const seller = await connectClient(t, inst, 'm-seller');
  const bidder = await connectClient(t, inst, 'm-bidder');
  const id = await seller.createAuction({ item: { name: 'Metered' } });
  await bidder.request({ type: 'subscribe', auction_id: id });
  await bidder.request({ type: 'place_bid', auction_id: id, data: { amount: 10 } });
  await bidder.request({ type: 'place_bid', auction_id: id, data: { amount: 5 } });
  await bidder.next((m) => m.type === 'bid_placed');
  const res = await fetch(`${inst.http}/metrics`);
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /text\/plain/);
  const text = await res.text();
  t.match(text, /auction_bids_total\{outcome="accepted"\} [1-9]/);
  t.match(text, /auction_bids_total\{outcome="too_low"\} [1-9]/);
  t.match(text, /auction_bid_seconds_count [1-9]/);
  t.match(text, /auction_ws_connections [1-9]/);
  t.match(text, /auction_notify_to_send_seconds_count [1-9]/);
  t.match(text, /auction_listen_channels [1-9]/);
});

t.test('/ready is 503 once the LISTEN connection is gone for good', async (t) => {
  const other = await startInstance(t, db.url);
  await other.app.listenHub.close();
  const ready = await fetch(`${other.http}/ready`);
  t.equal(ready.status, 503);
  t.match(await ready.json(), { status: 'not_ready', checks: { listen: false } });
});

t.test('probes (/health, /ready, /metrics) write no log lines at info; other requests still do; debug shows them', async (t) => {
  const probe = async (level: string) => {
    const lines: { level: number; msg: string; req?: { url: string } }[] = [];
    const sink = new Writable({ write(chunk, _enc, cb) { lines.push(JSON.parse(chunk.toString())); cb(); } });
    const app = await build({ config: loadConfig({ DATABASE_URL: db.url, JWT_SECRET: TEST_SECRET, PORT: '0', LOG_LEVEL: level }), logStream: sink });
    await app.listen({ port: 0, host: '127.0.0.1' });
    t.teardown(() => app.close());
    const { port } = app.server.address() as { port: number };
    for (const path of ['/health', '/ready', '/metrics', '/no-such-page']) {
      const res = await fetch(`http://127.0.0.1:${port}${path}`);
      await res.arrayBuffer();
    }
    await app.close(); // the last 'request completed' line is written before close settles
    return lines.filter((l) => l.msg === 'incoming request').map((l) => l.req!.url);
  };
  t.same(await probe('info'), ['/no-such-page'], 'at info only the other request is logged');
  t.same(await probe('debug'), ['/health', '/ready', '/metrics', '/no-such-page'], 'at debug every request is');
});
