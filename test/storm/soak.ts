// make soak: a long bid storm over three instance processes with faults, checked against the database.
// Writes docs/reliability.md. SOAK_CLIENTS, SOAK_BIDS, SOAK_AUCTIONS scale it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, rm, chmod, writeFile } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { tmpdir, cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { connect } from '../../src/db/connect.ts';
import { freePort, startEmbedded } from '../../src/db/embedded.ts';
import { migrate } from '../../src/db/migrate.ts';
import { makeAuction } from '../helpers/fixtures.ts';
import { check, closeAll, runStorm, settle } from './engine.ts';
import { startProxy } from './proxy.ts';

const CLIENTS = Number(process.env.SOAK_CLIENTS ?? 300);
const BIDS = Number(process.env.SOAK_BIDS ?? 40);
const AUCTIONS = Number(process.env.SOAK_AUCTIONS ?? 30);
const SECRET = 'soak-secret-soak-secret-soak-secret-0123';
const LOG_DIR = process.env.SOAK_LOG_DIR ?? join(tmpdir(), 'auction-soak-logs');
await mkdir(LOG_DIR, { recursive: true });
const log = (s: string) => console.log(`[soak ${new Date().toISOString().slice(11, 23)}] ${s}`);

const dir = await mkdtemp(join(tmpdir(), 'auction-soak-'));
await chmod(dir, 0o755);
const cluster = await startEmbedded({ dir, persistent: false });
const proxy = await startProxy(cluster.port);
const db = connect(cluster.url(), { max: 4, applicationName: 'soak' });
const admin = db.sql;
await migrate(admin);
const viaProxy = cluster.url().replace(`:${cluster.port}/`, `:${proxy.port}/`);

type Proc = { name: string; port: number; ws: string; http: string; child: ChildProcess; alive: boolean };
async function startProc(name: string): Promise<Proc> {
  const port = await freePort();
  const child = spawn(process.execPath, ['src/server.ts'], {
    env: { ...process.env, DATABASE_URL: viaProxy, PORT: String(port), HOST: '127.0.0.1', JWT_SECRET: SECRET, LOG_LEVEL: 'info',
      INSTANCE_ID: name, WS_RATE_LIMIT_PER_SEC: '1000', WS_RATE_BURST: '1000',
      WS_USER_RATE_LIMIT_PER_SEC: '1000', WS_USER_RATE_BURST: '1000', WS_UPGRADES_PER_IP_PER_MIN: '1000000' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // instance logs (pino writes to stdout) go to a file per instance, for diagnosis
  const out = createWriteStream(join(LOG_DIR, `instance-${name}.log`));
  child.stdout!.pipe(out);
  child.stderr!.pipe(out);
  const p = { name, port, ws: `ws://127.0.0.1:${port}/ws`, http: `http://127.0.0.1:${port}`, child, alive: true };
  child.on('exit', () => { p.alive = false; });
  await waitReady([p], 30_000);
  return p;
}
async function waitReady(ps: Proc[], ms: number) {
  const deadline = Date.now() + ms;
  for (const p of ps) {
    for (;;) {
      const ok = await fetch(`${p.http}/ready`).then((r) => r.ok, () => false);
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`${p.name} not ready after ${ms} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

const procs: Proc[] = [];
// instances never outlive the soak, however it ends
process.on('exit', () => { for (const p of procs) p.child.kill('SIGKILL'); });
for (const s of ['SIGINT', 'SIGTERM'] as const) process.on(s, () => process.exit(130));
procs.push(await startProc('a'), await startProc('b'), await startProc('c'));
const live = () => procs.filter((p) => p.alive);
log(`3 instances up; postgres ${cluster.port} via proxy ${proxy.port}; instance logs in ${LOG_DIR}`);

const [seller] = await admin`select auction.ensure_user(gen_random_uuid(), 'soak-seller') as id`;
const auctions: string[] = [];
for (let i = 0; i < AUCTIONS; i++) {
  const endsIn = i < AUCTIONS / 5 ? 8 : 3600; // a fifth end during the storm
  auctions.push((await makeAuction(admin, { seller: seller.id, item: { name: `soak item ${i}` }, endsIn, startingPrice: 1, minIncrement: 0.01 })).id);
}

type Fault = { name: string; at: number; recoveredMs: number; detail: string };
const faults: Fault[] = [];
const started = Date.now();
const FAULTS = (process.env.SOAK_FAULTS ?? 'listen,kill,restart,cut').split(',');
async function fault(name: string, detail: string, act: () => Promise<void>) {
  const key = { 'LISTEN backends terminated': 'listen', 'instance killed': 'kill', 'postgres restarted (immediate)': 'restart', 'connections cut': 'cut' }[name]!;
  if (!FAULTS.includes(key)) return;
  const t0 = Date.now();
  await act();
  await waitReady(live(), 60_000);
  faults.push({ name, at: t0 - started, recoveredMs: Date.now() - t0, detail });
  log(`${name}: recovered in ${Date.now() - t0} ms`);
}

const result = await runStorm({
  sql: admin, secret: SECRET, auctions, clients: CLIENTS, bidsPerClient: BIDS, subscriptionsPerClient: 4, retries: 40,
  endpoints: () => live().map((p) => ({ ws: p.ws })),
}, async (decided) => {
  // each fault once a share of the operations has an outcome, so every one lands mid-storm however fast it runs
  const pause = (share: number) => decided(Math.floor(share * CLIENTS * BIDS));
  await pause(0.15);
  await fault('LISTEN backends terminated', 'pg_terminate_backend on every auction-listen connection', async () => {
    await admin`select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'auction-listen'`;
  });
  await pause(0.35);
  await fault('instance killed', 'kill -9 of instance c; its clients reconnect to a and b and resume by seq', async () => {
    procs[2].child.kill('SIGKILL');
    await new Promise((r) => procs[2].child.once('exit', r));
  });
  await pause(0.55);
  await fault('postgres restarted (immediate)', 'SIGQUIT to the postmaster, crash recovery, start', async () => {
    await cluster.restartImmediate();
  });
  await pause(0.75);
  await fault('connections cut', 'a TCP proxy between instances and postgres drops every connection', async () => {
    proxy.cut();
  });
});
log(`storm done in ${result.durationMs} ms: ${JSON.stringify(result.counts)}`);
await admin`select auction.end_auction_if_due(id) from auction.auctions where id = any(${auctions}::uuid[])`;
const settled = await settle(admin, result, auctions, 30_000, () => live().map((p) => ({ ws: p.ws })));
const { violations, bids, deliveriesChecked } = await check(admin, result, auctions);
const missingAcked = violations.filter((v) => v.includes('is missing')).length;
const missedEvents = violations.filter((v) => v.includes(' missed ')).length;
log(`settled=${settled} bids=${bids} deliveries=${deliveriesChecked} violations=${violations.length}`);
for (const v of violations.slice(0, 20)) log(`VIOLATION ${v}`);
if (process.env.SOAK_VIOLATIONS_FILE) await writeFile(process.env.SOAK_VIOLATIONS_FILE, violations.join('\n') + '\n');
if (process.env.SOAK_VIOLATIONS_FILE) await writeFile(process.env.SOAK_VIOLATIONS_FILE + '.clients', JSON.stringify(result.clients.map((c) => ({ idx: c.idx, reconnects: c.reconnects, state: c.ws?.readyState, subs: c.subs, last: c.subs.map((a) => c.lastSeq(a)), size: c.subs.map((a) => c.seen.get(a)!.size) }))));

const [{ version }] = await admin`select current_setting('server_version') as version`;
const lines = [
  '# Reliability',
  '',
  `Generated by \`make soak\` on ${new Date().toISOString().slice(0, 10)} (${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB,`,
  `PostgreSQL ${version}, Node ${process.versions.node}). Three instance processes on one database through a TCP proxy;`,
  `${CLIENTS} WebSocket clients, each on one instance, subscribed to 4 of ${AUCTIONS} auctions (a fifth end during the storm),`,
  `each placing ${BIDS} bids with a request_id. An operation without an outcome (socket cut, server error) is retried`,
  'with the same request_id after reconnecting to a live instance and resuming its subscriptions with `since_seq`.',
  '',
  '## Operations',
  '',
  '| sent | accepted | rejected | without outcome | bids in the database | deliveries checked | duration |',
  '| --- | --- | --- | --- | --- | --- | --- |',
  `| ${result.ops.length} | ${result.counts.accepted ?? 0} | ${result.counts.rejected ?? 0} | ${result.counts.unknown ?? 0} | ${bids} | ${deliveriesChecked} | ${(result.durationMs / 1000).toFixed(1)} s |`,
  '',
  '## Faults during the storm',
  '',
  'Recovery is the time from the fault until every live instance answers `/ready` (database and LISTEN up).',
  '',
  '| fault | at | recovered in | what |',
  '| --- | --- | --- | --- |',
  ...faults.map((f) => `| ${f.name} | ${(f.at / 1000).toFixed(1)} s | ${f.recoveredMs} ms | ${f.detail} |`),
  '',
  '## Invariants checked against the database',
  '',
  'Accepted amounts rise strictly with seq; seq has no gaps; price and high bidder equal the last bid; the winner is',
  'the highest bidder; no bid accepted at or after end_time; every acknowledged bid exists once, as acknowledged, with',
  "the token's subject as bidder; every bid row traces to a recorded operation of that user; every subscriber's",
  "de-duplicated bid_placed stream equals the database's log.",
  '',
  '| acknowledged bids missing | events missed by resumed clients | all violations | clients caught up |',
  '| --- | --- | --- | --- |',
  `| ${missingAcked} | ${missedEvents} | ${violations.length} | ${settled ? 'yes' : 'no'} |`,
  '',
  ...(violations.length ? ['First violations:', '', ...violations.slice(0, 20).map((v) => `- ${v}`), ''] : []),
  '## Bad input',
  '',
  'Property-based tests in `test/fuzz/` (run by `make test`) send random and malformed frames (bad JSON, wrong types,',
  'huge numbers, NaN-like strings, negative and over-precise amounts, unknown ids, binary frames, floods) and random',
  'environments: each frame gets a typed answer, the socket stays open, other clients are unaffected.',
  '',
];
await writeFile('docs/reliability.md', lines.join('\n'));
log('wrote docs/reliability.md');

closeAll(result);
for (const p of live()) p.child.kill('SIGTERM');
await Promise.all(procs.map((p) => (p.alive ? new Promise((r) => p.child.once('exit', r)) : null)));
await db.close();
await proxy.close();
await cluster.stop();
await rm(dir, { recursive: true, force: true });
process.exit(violations.length === 0 && settled ? 0 : 1);
