import t, { type Test } from 'tap';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freshDb } from '../helpers/db.ts';
import { connectClient, startInstance, tokenFor } from '../helpers/app.ts';
import { inSeconds } from '../helpers/fixtures.ts';
import { acceptedBid, auctionList, auctionSnapshot, bidList, boughtBid, itemView } from '../../src/protocol/views.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const db = await freshDb(t);
const inst = await startInstance(t, db.url);
const seller = await tokenFor('doc-seller');
const bidder = await tokenFor('doc-bidder');

type Doc = {
  openapi: string; servers?: { url: string }[]; info: { license?: { name: string } };
  paths: Record<string, Record<string, { operationId?: string; responses: Record<string, { content?: Record<string, { schema?: unknown }> }> }>>;
};

async function call(method: string, path: string, token: string, body?: unknown) {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${inst.http}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: await res.json() as any };
}

/** `redocly lint` (the recommended rules, warnings as errors: redocly.yaml) on a document; its JSON report. */
async function lint(t: Test, doc: unknown) {
  const dir = await mkdtemp(join(tmpdir(), 'openapi-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'openapi.json');
  await writeFile(file, JSON.stringify(doc));
  const cli = join(root, 'node_modules/@redocly/cli/bin/cli.js');
  return new Promise<{ code: number; report: { totals: { errors: number; warnings: number }; problems: { ruleId: string; message: string }[] } }>((resolve, reject) => {
    execFile(process.execPath, [cli, 'lint', file, '--format=json', '--config', join(root, 'redocly.yaml')],
      { cwd: root, env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' } },
      (err, stdout, stderr) => {
        try {
          resolve({ code: err ? Number(err.code ?? 1) : 0, report: JSON.parse(stdout) });
        } catch {
          reject(new Error(`redocly gave no report: ${stderr}`));
        }
      });
  });
}

const doc = await (await fetch(`${inst.http}/openapi.json`)).json() as Doc;

t.test('the served document passes redocly lint with no error or warning', async (t) => {
  const { code, report } = await lint(t, doc);
  t.same(report.problems.map((p) => `${p.ruleId}: ${p.message}`), []);
  t.match(report.totals, { errors: 0, warnings: 0 });
  t.equal(code, 0);

  // the same lint fails a document that lost an operationId and its servers
  const broken = structuredClone(doc);
  delete broken.paths['/api/v1/items'].post.operationId;
  delete broken.servers;
  const bad = await lint(t, broken);
  t.not(bad.code, 0, 'a broken document fails');
  t.ok(bad.report.problems.some((p) => p.ruleId === 'operation-operationId'), 'missing operationId is reported');
  t.ok(bad.report.problems.some((p) => p.ruleId === 'no-empty-servers'), 'missing servers are reported');
});

t.test('every operation has a unique operationId and a schema for each JSON answer', async (t) => {
  t.ok(doc.servers?.length, 'servers');
  t.ok(doc.info.license?.name, 'license');
  const ids: string[] = [];
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      t.type(op.operationId, 'string', `${method} ${path} has an operationId`);
      ids.push(op.operationId!);
      for (const [status, r] of Object.entries(op.responses)) {
        t.ok(r.content?.['application/json']?.schema, `${method} ${path} ${status} has a schema`);
      }
    }
  }
  t.equal(new Set(ids).size, ids.length, 'operationIds are unique');
  t.same(ids.sort(), ['buyNow', 'createAuction', 'createItem', 'getAuction', 'listAuctions', 'listBids', 'placeBid']);
  t.match(doc.paths['/api/v1/auctions/{id}'].get.responses['200'], { content: { 'application/json': { schema: { $ref: '#/components/schemas/AuctionSnapshot' } } } });
});

t.test('/docs serves the UI and its assets from this server', async (t) => {
  const res = await fetch(`${inst.http}/docs`);
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /text\/html/);
  const html = await res.text();
  t.notMatch(html, /(src|href)="(https?:)?\/\//, 'nothing loads from another host');
  const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => new URL(m[1], `${inst.http}/docs/`).href);
  t.ok(assets.some((a) => a.endsWith('swagger-ui-bundle.js')), 'the bundle is referenced');
  for (const a of assets) t.equal((await fetch(a)).status, 200, `${a.replace(inst.http, '')} is served`);
  const initializer = await (await fetch(`${inst.http}/docs/static/swagger-initializer.js`)).text();
  t.match(initializer, /resolveUrl\('\.\/json'\)/, 'the UI reads the document from /docs/json');
  const served = await (await fetch(`${inst.http}/docs/json`)).json() as Doc;
  t.same(served.paths, doc.paths, 'the same document as /openapi.json');
});

t.test('real responses match their schemas, and REST drops nothing the socket sends', async (t) => {
  const item = await call('POST', '/api/v1/items', seller.token, { name: 'Clock' });
  t.equal(item.status, 201);
  itemView.parse(item.body);
  const created = await call('POST', '/api/v1/auctions', seller.token, {
    item_id: item.body.id, start_time: inSeconds(-1), end_time: inSeconds(3600), starting_price: 10, reserve_price: 100, buy_now_price: 500 });
  t.equal(created.status, 201);
  auctionSnapshot.parse(created.body);
  const id = created.body.auction_id as string;

  // a proxy bid, then the leader raises their maximum: no visible bid, so no bid_id
  const proxy = await call('POST', `/api/v1/auctions/${id}/bids`, bidder.token, { max_amount: 50 });
  t.equal(proxy.status, 201);
  acceptedBid.parse(proxy.body);
  const raised = await call('POST', `/api/v1/auctions/${id}/bids`, bidder.token, { max_amount: 60 });
  t.equal(raised.status, 201);
  t.match(acceptedBid.parse(raised.body), { bid_id: null, leading: true, max_amount: 60 });

  const got = await call('GET', `/api/v1/auctions/${id}`, bidder.token);
  auctionSnapshot.parse(got.body);
  const ws = await connectClient(t, inst, 'doc-watcher');
  const { data } = await ws.request({ type: 'get_auction', auction_id: id });
  const { subscribed, ...socketSnapshot } = data;
  t.equal(subscribed, false);
  t.same(got.body, socketSnapshot, 'GET /api/v1/auctions/:id is the socket snapshot, field for field');

  const list = await call('GET', '/api/v1/auctions?limit=5', bidder.token);
  auctionList.parse(list.body);
  const socketList = await ws.request({ type: 'list_auctions', data: { limit: 5 } });
  t.same(list.body, socketList.data, 'the list is the socket list');
  bidList.parse((await call('GET', `/api/v1/auctions/${id}/bids`, bidder.token)).body);

  const wsBidder = await connectClient(t, inst, 'doc-socket-bidder');
  const socketBid = await wsBidder.request({ type: 'place_bid', auction_id: id, data: { amount: 70 } });
  t.equal(socketBid.type, 'bid_accepted');
  const restBid = await call('POST', `/api/v1/auctions/${id}/bids`, bidder.token, { amount: 90 });
  t.equal(restBid.status, 201);
  t.same(Object.keys(restBid.body).sort(), Object.keys(socketBid.data).sort(), 'a REST bid has the fields of bid_accepted');

  const buyer = await tokenFor('doc-buyer');
  const other = await call('POST', '/api/v1/auctions', seller.token, {
    item: { name: 'Radio' }, start_time: inSeconds(-1), end_time: inSeconds(3600), starting_price: 5, buy_now_price: 20, increment_table: [{ below: 10, step: 1 }, { step: 2 }] });
  auctionSnapshot.parse(other.body);
  t.same(other.body.increments, { table: [{ below: 10, step: 1 }, { step: 2 }] });
  const bought = await fetch(`${inst.http}/api/v1/auctions/${other.body.auction_id}/buy-now`, {
    method: 'POST', headers: { authorization: `Bearer ${buyer.token}`, 'idempotency-key': 'buy-1' } });
  t.equal(bought.status, 201);
  t.match(boughtBid.parse(await bought.json()), { bought: true, duplicate: false, amount: 20 });
  const again = await fetch(`${inst.http}/api/v1/auctions/${other.body.auction_id}/buy-now`, {
    method: 'POST', headers: { authorization: `Bearer ${buyer.token}`, 'idempotency-key': 'buy-1' } });
  t.equal(again.status, 200);
  t.match(boughtBid.parse(await again.json()), { bought: true, duplicate: true });
});
