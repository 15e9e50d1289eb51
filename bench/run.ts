// `make bench`: runs the benchmark scenarios against a disposable PostgreSQL (or BENCH_DATABASE_URL, a role
// that may create databases), prints a table per scenario and rewrites the results part of docs/benchmarks.md.
// BENCH_QUICK=1 runs every scenario short and small. BENCH_ONLY=spread,hot,... runs a subset. Those two leave
// docs/benchmarks.md alone unless BENCH_WRITE_DOCS=1.
// Every child process has a hard time limit; nothing here asserts on timings.
import postgres, { type Sql } from 'postgres';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, chmod, readFile, writeFile } from 'node:fs/promises';
import { spawn, execFileSync } from 'node:child_process';
import { cpus, totalmem, tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmbedded, type EmbeddedCluster } from '../src/db/embedded.ts';
import { migrate } from '../src/db/migrate.ts';
import { Hist, createOpenAuctions, nofileRefusal, openFileLimit, sleep, startChild, type BidLoad, type BidResult, type Child, type ChildMsg, type HistJson } from './lib.ts';
import type { WatchResult } from './watchers.ts';

const QUICK = process.env.BENCH_QUICK === '1';
const ONLY = process.env.BENCH_ONLY?.split(',').map((s) => s.trim()).filter(Boolean);
const root = fileURLToPath(new URL('../', import.meta.url));

const S = QUICK
  ? { rounds: 1, durationMs: 4_000, warmupMs: 1_000, spreadAuctions: 1_000, bidders: 64, fanoutN: [500, 1_000], fanoutRate: 20, fanoutTopRates: [20], fanoutMs: 5_000, fanoutDrainMs: 20_000,
      idleN: 2_000, channelsN: 1_000 }
  : { rounds: 3, durationMs: 5_000, warmupMs: 1_000, spreadAuctions: 1_000, bidders: 64, fanoutN: [500, 1_000, 10_000], fanoutRate: 20, fanoutTopRates: [2, 5, 10, 20], fanoutMs: 10_000, fanoutDrainMs: 30_000,
      idleN: 20_000, channelsN: 10_000 };
// BENCH_FANOUT_N=10000 (a comma list) and BENCH_IDLE_N=20000 override the sizes, e.g. to try 10k in a quick run;
// BENCH_FANOUT_RATES=2,5,20 the bid rates tried in turn at the largest N (the others get fanoutRate).
if (process.env.BENCH_FANOUT_N) S.fanoutN = process.env.BENCH_FANOUT_N.split(',').map(Number);
if (process.env.BENCH_FANOUT_RATES) S.fanoutTopRates = process.env.BENCH_FANOUT_RATES.split(',').map(Number);
if (process.env.BENCH_IDLE_N) S.idleN = Number(process.env.BENCH_IDLE_N);
const HISTORY = 20; // bids per auction before a run
const POOL = 10; // DB_POOL_MAX default: the baseline uses as many connections as an instance's pool
const BIDDER_PROCS = 2;
// The bench drives 64 sockets far above a person's rate: lift the per-socket limits, keep everything else default.
// BENCH_SERVER_ENV="BID_BATCH_CONCURRENCY=1,DB_POOL_MAX=20" tries other settings on every instance.
const OVERRIDES = Object.fromEntries((process.env.BENCH_SERVER_ENV ?? '').split(',').filter((kv) => kv.includes('=')).map((kv) => kv.trim().split('=', 2)));
const BENCH_ENV = { WS_RATE_LIMIT_PER_SEC: '100000', WS_RATE_BURST: '100000', WS_MAX_SUBSCRIPTIONS: '1000', DB_POOL_MAX: String(POOL), ...OVERRIDES };

// ---------------------------------------------------------------- database

let cluster: EmbeddedCluster | undefined;
let tmp: string | undefined;
let adminUrl = process.env.BENCH_DATABASE_URL;
const template = `bench_template_${process.pid}`;
const made: string[] = [];
const urlFor = (db: string) => adminUrl!.replace(/\/[^/?]*(\?|$)/, `/${db}$1`);

async function freshDb(auctions: number): Promise<{ url: string; ids: string[] }> {
  const name = `bench_${process.pid}_${made.length}`;
  const admin = postgres(adminUrl!, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name} template ${template}`);
  await admin.end();
  made.push(name);
  const sql = postgres(urlFor(name), { max: 1, onnotice: () => {} });
  const ids = await createOpenAuctions(sql, auctions, '5.00');
  // A history of HISTORY bids per auction, written in bulk with triggers off, then statistics: the run measures a
  // database that has been taking bids, not the first minute of an empty one (docs/benchmarks.md, "Databases").
  const past = '00000000-0000-4000-8000-0000000face0';
  await sql`select auction.ensure_user(${past}, 'bench past bidder')`;
  await sql.begin(async (tx) => {
    await tx`set local session_replication_role = replica`;
    await tx`insert into auction.bids (auction_id, user_id, amount, seq, created_at, updated_at)
             select a.id, ${past}, 10.00 - (${HISTORY} - g) * 0.01, g, now() - interval '1 minute', now() - interval '1 minute'
               from auction.auctions a, generate_series(1, ${HISTORY}) g`;
    await tx`update auction.auctions set seq = ${HISTORY}, current_price = 10.00, leader_max = 10.00, high_bidder_id = ${past},
             status = 'active', last_bid_at = now() - interval '1 minute'`;
  });
  await sql`vacuum analyze`;
  await sql.end();
  return { url: urlFor(name), ids };
}

async function dropDbs() {
  if (!adminUrl) return;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  for (const n of [...made, template]) await admin.unsafe(`drop database if exists ${n} with (force)`).catch(() => {});
  await admin.end();
}

// ---------------------------------------------------------------- processes

const children = new Set<Child<unknown>>();
function child<R>(file: string, params: Record<string, unknown>, opts: Parameters<typeof startChild>[2] = {}) {
  const c = startChild<R>(file, params, opts);
  children.add(c as Child<unknown>);
  c.proc.once('exit', () => children.delete(c as Child<unknown>));
  return c;
}

type Server = { url: string; child: Child<never>; stats: () => Promise<ChildMsg>; profile: (on: boolean) => Promise<unknown>; close: () => Promise<void> };
async function startServer(databaseUrl: string, env: Record<string, string> = {}, opts: { nofile?: number; gc?: boolean } = {}): Promise<Server> {
  const c = child<never>('server.ts', { databaseUrl, env: { ...BENCH_ENV, ...env } },
    { nofile: opts.nofile ?? 100_000, execArgv: opts.gc ? ['--expose-gc'] : [] });
  const ready = await c.ready;
  return {
    url: `ws://127.0.0.1:${ready.port}/ws`,
    child: c,
    stats: () => c.request({ type: 'stats' }, 'stats'),
    profile: (on) => (process.env.BENCH_PROFILE ? c.request({ type: on ? 'profile-start' : 'profile-stop' }, on ? 'profiling' : 'profiled') : Promise.resolve()),
    close: async () => {
      await Promise.race([c.request({ type: 'close' }, 'closed').catch(() => {}), sleep(15_000)]);
      c.stop();
    },
  };
}

/** Load results of one or more processes over one or more rounds; rates are over the summed measuring windows. */
function mergeBids(rs: BidResult[], windowS = rs[0].windowMs / 1000) {
  const sum = (f: (r: BidResult) => number) => rs.reduce((a, r) => a + f(r), 0);
  const reasons: Record<string, number> = {};
  for (const r of rs) for (const [k, v] of Object.entries(r.reasons)) reasons[k] = (reasons[k] ?? 0) + v;
  const lat = Hist.from(rs.map((r) => r.latency));
  return {
    accepted: sum((r) => r.accepted), rejected: sum((r) => r.rejected), errors: sum((r) => r.errors), unanswered: sum((r) => r.unanswered),
    acceptedPerS: sum((r) => r.accepted) / windowS, processedPerS: sum((r) => r.accepted + r.rejected) / windowS,
    p50: lat.pct(50), p99: lat.pct(99), max: lat.max, reasons,
  };
}
type BidRun = ReturnType<typeof mergeBids> & { label: string; batch?: number; dbMs?: number; serverCpu?: number; pgCpu: number; busy: number; loadCpu: number;
  loopP99?: number; loopMax?: number };

/** One variant's run in one round: the load processes' results, CPU used meanwhile, the server's counters. */
type Round = { results: BidResult[]; wallS: number; pgS: number; busy: number; total: number; srv?: Record<'batches' | 'batchedBids' | 'dbSeconds' | 'dbCalls' | 'cpuSeconds', number>;
  loop?: { p99: number; max: number } };

function combine(label: string, rounds: Round[]): BidRun {
  const all = rounds.flatMap((r) => r.results);
  const windowS = rounds.reduce((a, r) => a + r.results[0].windowMs / 1000, 0);
  const wallS = rounds.reduce((a, r) => a + r.wallS, 0);
  const srv = (k: keyof NonNullable<Round['srv']>) => rounds.reduce((a, r) => a + (r.srv?.[k] ?? 0), 0);
  const hasSrv = rounds.some((r) => r.srv);
  return {
    label, ...mergeBids(all, windowS),
    loadCpu: all.reduce((a, r) => a + (r.cpuSeconds ?? 0), 0) / wallS,
    pgCpu: rounds.reduce((a, r) => a + r.pgS, 0) / wallS,
    busy: rounds.reduce((a, r) => a + r.busy, 0) / rounds.reduce((a, r) => a + r.total, 0),
    batch: hasSrv && srv('batches') > 0 ? srv('batchedBids') / srv('batches') : undefined,
    dbMs: hasSrv && srv('dbCalls') > 0 ? (srv('dbSeconds') / srv('dbCalls')) * 1000 : undefined,
    serverCpu: hasSrv ? srv('cpuSeconds') / wallS : undefined,
    // event-loop delay of the instance: the worst round's p99, and the max
    loopP99: rounds.some((r) => r.loop) ? Math.max(...rounds.map((r) => r.loop?.p99 ?? 0)) : undefined,
    loopMax: rounds.some((r) => r.loop) ? Math.max(...rounds.map((r) => r.loop?.max ?? 0)) : undefined,
  };
}

const TICK = 100; // USER_HZ
const statFields = (pid: number | string) => {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return text.slice(text.lastIndexOf(')') + 2).split(' '); // fields from 3 (state) on
};
/** CPU seconds used by the embedded cluster (postmaster, its live children, and children it reaped), and machine busy/total ticks. */
function cpuSample() {
  let pg = NaN;
  try {
    if (tmp) {
      const pm = Number(readFileSync(join(tmp, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
      const f = statFields(pm);
      pg = (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / TICK;
      for (const d of readdirSync('/proc')) {
        if (!/^\d+$/.test(d)) continue;
        try {
          const c = statFields(d);
          if (Number(c[1]) === pm) pg += (Number(c[11]) + Number(c[12])) / TICK;
        } catch { /* gone */ }
      }
    }
  } catch { /* not local */ }
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = cpu[3] + cpu[4];
  const total = cpu.reduce((a, b) => a + b, 0);
  return { pg, busy: total - idle, total };
}
async function measured(start: () => void, results: () => Promise<BidResult[]>, server?: Server): Promise<Round> {
  const before = await server?.stats();
  await server?.profile(true);
  const c0 = cpuSample();
  const t0 = performance.now();
  start();
  const rs = await results();
  const wallS = (performance.now() - t0) / 1000;
  const c1 = cpuSample();
  await server?.profile(false);
  const after = await server?.stats();
  const srv = before && after ? Object.fromEntries((['batches', 'batchedBids', 'dbSeconds', 'dbCalls', 'cpuSeconds'] as const)
    .map((k) => [k, (after[k] as number) - (before[k] as number)])) as Round['srv'] : undefined;
  const loop = after ? { p99: after.loopP99Ms as number, max: after.loopMaxMs as number } : undefined; // since `before`
  return { results: rs, wallS, pgS: c1.pg - c0.pg, busy: c1.busy - c0.busy, total: c1.total - c0.total, srv, loop };
}
function cpuSince(a: ReturnType<typeof cpuSample>, wallS: number) {
  const b = cpuSample();
  return { pgCpu: (b.pg - a.pg) / wallS, busy: (b.busy - a.busy) / (b.total - a.total) };
}

async function baselineRound(databaseUrl: string, load: BidLoad): Promise<Round> {
  const c = child<BidResult>('baseline.ts', { databaseUrl, connections: POOL, load, hardLimitMs: load.durationMs + 120_000 });
  await c.ready;
  return measured(() => c.go(), async () => [await c.result]);
}

/** 64 bidders over BIDDER_PROCS load processes against `servers`; the first server's counters give batch size and CPU. */
async function socketRound(servers: Server[], load: BidLoad): Promise<Round> {
  const per = Math.ceil(load.bidders / BIDDER_PROCS);
  const procs = Array.from({ length: BIDDER_PROCS }, (_, k) => child<BidResult>('bidders.ts', {
    urls: servers.map((s) => s.url), load: { ...load, bidders: per, firstBidder: load.firstBidder + k * per },
    hardLimitMs: load.durationMs + 120_000,
  }));
  await Promise.all(procs.map((p) => p.ready));
  return measured(() => { for (const p of procs) p.go(); }, () => Promise.all(procs.map((p) => p.result)), servers[0]);
}

async function socketRun(label: string, servers: Server[], load: BidLoad): Promise<BidRun> {
  return combine(label, [await socketRound(servers, load)]);
}

/**
 * Baseline, group commit off, group commit on: each on its own database and instance, run in ROUNDS
 * interleaved rounds (the order rotating) so that noise from other work on the machine falls on all three alike.
 */
async function compareBids(auctions: number) {
  const dbs = [await freshDb(auctions), await freshDb(auctions), await freshDb(auctions)];
  const off = await startServer(dbs[1].url, { BID_BATCH_MAX: '1' });
  const on = await startServer(dbs[2].url);
  const t0 = Date.now();
  const rounds: Round[][] = [[], [], []];
  try {
    for (let r = 0; r < S.rounds; r++) {
      for (let k = 0; k < 3; k++) {
        const v = (k + r) % 3;
        const load: BidLoad = { auctions: dbs[v].ids, bidders: S.bidders, firstBidder: 0, durationMs: S.durationMs, warmupMs: S.warmupMs, t0 };
        rounds[v].push(v === 0 ? await baselineRound(dbs[0].url, load) : await socketRound([v === 1 ? off : on], load));
      }
    }
  } finally {
    await Promise.all([off.close(), on.close()]);
  }
  return {
    base: combine(`baseline: place_bid direct, 1 bid/tx, ${POOL} connections`, rounds[0]),
    runs: [combine('service, group commit off (BID_BATCH_MAX=1)', rounds[1]), combine('service, group commit on (defaults)', rounds[2])],
  };
}

// ---------------------------------------------------------------- scenarios

const f0 = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');
const f1 = (n: number | undefined) => (n !== undefined && Number.isFinite(n) ? n.toFixed(1) : '–');
const ms = (n: number) => (Number.isFinite(n) ? `${n < 10 ? n.toFixed(1) : Math.round(n)} ms` : '–');
const pc = (x: number) => (Number.isFinite(x) ? `${Math.round(x * 100)}%` : '–');
const table = (head: string[], rows: (string | number)[][]) =>
  [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');

type Section = { title: string; text: string };
const sections: Section[] = [];
const verdicts: { target: string; measured: string; met: boolean | undefined }[] = [];
function report(title: string, text: string) {
  sections.push({ title, text });
  console.log(`\n## ${title}\n\n${text}\n`);
}

function bidTable(runs: BidRun[], base: BidRun, ratioOf: 'acceptedPerS' | 'processedPerS') {
  return table(['run', 'accepted bids/s', 'processed bids/s', 'p50', 'p99', 'max', 'mean batch', 'mean tx', 'CPU: postgres / server / load (machine busy)', `ratio (${ratioOf === 'acceptedPerS' ? 'accepted' : 'processed'}/s vs baseline)`, 'errors'],
    [base, ...runs].map((r) => [r.label, f0(r.acceptedPerS), f0(r.processedPerS), ms(r.p50), ms(r.p99), ms(r.max), f1(r.batch),
      r.dbMs === undefined ? '–' : ms(r.dbMs), `${pc(r.pgCpu ?? NaN)} / ${r.serverCpu === undefined ? '–' : pc(r.serverCpu)} / ${pc(r.loadCpu)} (${pc(r.busy ?? NaN)})`,
      r === base ? '1.00×' : `${(r[ratioOf] / base[ratioOf]).toFixed(2)}×`, r.errors + r.unanswered]));
}

async function spread() {
  const { base, runs } = await compareBids(S.spreadAuctions);
  report(`1. Spread: ${f0(S.spreadAuctions)} auctions, ${S.bidders} bidders, one instance`, bidTable(runs, base, 'acceptedPerS'));
  const on = runs[1];
  verdicts.push({ target: 'spread: accepted bids/s ≥ 3× the one-bid-per-transaction baseline', measured: `${(on.acceptedPerS / base.acceptedPerS).toFixed(2)}× (${f0(on.acceptedPerS)} vs ${f0(base.acceptedPerS)}/s)`, met: on.acceptedPerS >= 3 * base.acceptedPerS });
}

async function hot() {
  const { base, runs } = await compareBids(1);
  report(`2. Hot auction: 1 auction, ${S.bidders} bidders all raising`, bidTable(runs, base, 'processedPerS') +
    `\n\nRejections (on): ${JSON.stringify(runs[1].reasons)}`);
  const on = runs[1];
  verdicts.push({ target: 'hot auction: ≥ 10k processed bids/s', measured: `${f0(on.processedPerS)}/s (${(on.processedPerS / base.processedPerS).toFixed(2)}× baseline)`, met: on.processedPerS >= 10_000 });
}

const localAddr = (k: number) => `127.0.0.${2 + k}`;

/** Opens `n` watcher sockets over several client processes (each from its own source address). */
async function watchers(urls: string[], n: number, opts: { firstUser: number; auctions?: string[]; perSocket?: number; slice?: boolean; holdMs: number; perProc?: number }) {
  const perProc = opts.perProc ?? 2_500;
  const procs: Child<WatchResult>[] = [];
  for (let k = 0, left = n; left > 0; k++, left -= perProc) {
    const count = Math.min(perProc, left);
    procs.push(child<WatchResult>('watchers.ts', {
      urls, count, firstUser: opts.firstUser + k * perProc, localAddress: localAddr(k), auctions: opts.auctions ?? [],
      perSocket: opts.perSocket ?? 0, slice: opts.slice ?? false, connectConcurrency: 64, setupLimitMs: 180_000,
      holdMs: opts.holdMs, hardLimitMs: 180_000 + opts.holdMs + 60_000,
    }, { nofile: 50_000 }));
  }
  const started = Date.now();
  const ready = await Promise.all(procs.map((p) => p.ready));
  const connected = ready.reduce((a, r) => a + (r.connected as number), 0);
  const failed = ready.reduce((a, r) => a + (r.failed as number), 0);
  const firstError = ready.find((r) => r.firstError)?.firstError as string | undefined;
  return { procs, connected, failed, firstError, setupS: (Date.now() - started) / 1000 };
}

type FanoutRow = { n: number; rate: number; connected: number; failed: number; firstError?: string; setupS: number; sent: number; accepted: number;
  deliveries: number; expected: number; deliverS: number; bidS: number; p50: number; p99: number; max: number; lost: number; busy: number; serverCpu: number; serverP99: string;
  serverSys: number; cpuPerDelivery: number; loadCpu: number; loop: string; bidP99: number };

/** The bucket bound under which 99% of this instance's commit→broadcast lags fell (prom-client cumulative buckets). */
function lagP99(before: ChildMsg, after: ChildMsg) {
  const num = (le: string) => (le === '+Inf' ? Infinity : Number(le));
  const b = new Map((before.lag as [string, number][]).map(([le, c]) => [num(le), c]));
  const rows = (after.lag as [string, number][]).map(([le, c]) => [num(le), c - (b.get(num(le)) ?? 0)] as const).sort((x, y) => x[0] - y[0]);
  const total = rows.at(-1)?.[1] ?? 0;
  if (!total) return '–';
  const hit = rows.find(([, c]) => c >= 0.99 * total)!;
  return hit[0] === Infinity ? '> 2.5 s' : `≤ ${hit[0] * 1000} ms`;
}

/** Percentile over the deliveries that came plus those that did not (counted as later than any that did). */
function pctWithMissing(h: Hist, p: number, missing: number) {
  const want = Math.ceil((p / 100) * (h.n + missing));
  return want > h.n ? Infinity : h.pct((want / h.n) * 100);
}

/**
 * One auction, n subscribers over two instances, and for each rate in turn a bidder at that rate on the first
 * instance. After the bidder stops, each phase waits until every subscriber got every committed bid (or
 * S.fanoutDrainMs passed), so a delivery that comes late is measured, not left out.
 */
async function fanoutOnce(n: number, rates: number[]): Promise<FanoutRow[]> {
  const db = await freshDb(1);
  const a = await startServer(db.url);
  const b = await startServer(db.url);
  const rows: FanoutRow[] = [];
  try {
    const phaseMs = S.fanoutMs + S.fanoutDrainMs + 30_000;
    const w = await watchers([a.url, b.url], n, { firstUser: 0, auctions: db.ids, perSocket: 1, holdMs: rates.length * phaseMs + 60_000 });
    for (const p of w.procs) p.go();
    const t00 = Date.now(); // bid amounts keep rising from phase to phase
    for (const rate of rates) {
      const bidder = child<BidResult>('bidders.ts', {
        urls: [a.url], rate, hardLimitMs: S.fanoutMs + 90_000,
        load: { auctions: db.ids, bidders: 1, firstBidder: 1000, durationMs: S.fanoutMs, warmupMs: 0, t0: t00 },
      });
      await bidder.ready;
      const [sa, sb] = [await a.stats(), await b.stats()];
      await Promise.all([a.profile(true), b.profile(true)]);
      const cpu0 = cpuSample();
      const t0 = Date.now();
      bidder.go();
      const bids = await bidder.result;
      const bidS = (Date.now() - t0) / 1000;
      const expected = bids.accepted * w.connected;
      const drainEnd = Date.now() + S.fanoutDrainMs;
      for (let got = 0; got < expected && Date.now() < drainEnd; await sleep(200)) {
        got = (await Promise.all(w.procs.map((p) => p.request({ type: 'count' }, 'count')))).reduce((s, m) => s + (m.deliveries as number), 0);
      }
      const deliverS = (Date.now() - t0) / 1000;
      await Promise.all([a.profile(false), b.profile(false)]);
      const cpu = cpuSince(cpu0, deliverS);
      const [ea, eb] = [await a.stats(), await b.stats()];
      const phases = await Promise.all(w.procs.map((p) => p.request({ type: 'phase' }, 'phase')));
      const lat = Hist.from(phases.map((m) => m.latency as HistJson));
      const deliveries = phases.reduce((s, m) => s + (m.deliveries as number), 0);
      const missing = Math.max(0, expected - deliveries);
      const d = (k: string) => ((ea[k] as number) - (sa[k] as number)) + ((eb[k] as number) - (sb[k] as number));
      const wallS = (Date.now() - t0) / 1000;
      rows.push({
        n, rate, connected: w.connected, failed: w.failed, firstError: w.firstError, setupS: w.setupS,
        sent: bids.accepted + bids.rejected + bids.errors + bids.unanswered, accepted: bids.accepted,
        deliveries, expected, deliverS, bidS, p50: pctWithMissing(lat, 50, missing), p99: pctWithMissing(lat, 99, missing), max: missing ? Infinity : lat.max,
        busy: cpu.busy, serverP99: `${lagP99(sa, ea)}, ${lagP99(sb, eb)}`,
        serverCpu: d('cpuSeconds') / wallS, serverSys: d('cpuSystemSeconds') / wallS, cpuPerDelivery: d('cpuSeconds') / Math.max(1, deliveries),
        loop: `${ms(ea.loopP99Ms as number)} / ${ms(ea.loopMaxMs as number)}, ${ms(eb.loopP99Ms as number)} / ${ms(eb.loopMaxMs as number)}`,
        loadCpu: NaN, lost: 0, bidP99: Hist.from([bids.latency]).pct(99),
      });
    }
    for (const p of w.procs) p.proc.send({ type: 'stop' });
    const results = await Promise.all(w.procs.map((p) => p.result));
    // the watchers' CPU over their whole run (all phases, drains included) and sockets closed before the end
    const loadCpu = results.reduce((s, r) => s + (r.cpuSeconds ?? 0), 0) / (Math.max(...results.map((r) => r.runMs ?? 0)) / 1000);
    const lost = w.connected - results.reduce((s, r) => s + r.connected, 0);
    for (const r of rows) Object.assign(r, { loadCpu, lost });
    return rows;
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
}

async function fanout() {
  const rows: FanoutRow[] = [];
  const top = Math.max(...S.fanoutN);
  for (const n of S.fanoutN) rows.push(...await fanoutOnce(n, n === top ? S.fanoutTopRates : [S.fanoutRate]));
  const late = (x: number) => (Number.isFinite(x) ? ms(x) : `> ${S.fanoutDrainMs / 1000} s`);
  report(`3. Fan-out: 1 auction, N subscribers over two instances, a bidder at a fixed rate for ${S.fanoutMs / 1000} s`, table(
    ['subscribers (connected)', 'bids/s offered', 'setup', 'bids sent / committed', 'bid round trip p99', 'deliveries (expected)', 'deliveries/s', 'commit→delivery p50', 'p99', 'max', 'sockets lost',
      'commit→broadcast start p99 (server A, B)', 'event-loop delay p99 / max (A, B)', 'server CPU per delivery', 'CPU: both servers (kernel part) / watchers (machine busy)'],
    rows.map((r) => [`${f0(r.n)} (${f0(r.connected)}${r.failed ? `; ${r.failed} failed: ${r.firstError}` : ''})`, r.rate, `${r.setupS.toFixed(1)} s`, `${r.sent} / ${r.accepted}`, ms(r.bidP99),
      `${f0(r.deliveries)} (${f0(r.expected)})`, f0(r.deliveries / r.deliverS), late(r.p50), late(r.p99), late(r.max), r.lost, r.serverP99, r.loop,
      `${f1(r.cpuPerDelivery * 1e6)} µs`, `${pc(r.serverCpu)} (${pc(r.serverSys)}) / ${pc(r.loadCpu)} (${pc(r.busy)})`])) +
    '\n\nLatency: the receiving client\'s clock minus `data.time` (the bid\'s `created_at`, stamped just before commit), same machine clock. ' +
    `After the bidder stops, the run waits up to ${S.fanoutDrainMs / 1000} s for every subscriber to get every committed bid; one still missing then counts as later than that. ` +
    'Bid round trip: the bidder\'s place_bid → bid_accepted on instance A (a fan-out that holds A\'s event loop delays the bids themselves, and so the commits the latency counts from). ' +
    'Deliveries/s: deliveries over the time from the first bid to the last delivery. Server CPU per delivery: both instances\' CPU time (the bids included) over the deliveries. ' +
    'Rows with the same N share their sockets. The watchers share the two cores with the instances and PostgreSQL.');
  const at = rows.filter((r) => r.n === top);
  const main = at.find((r) => r.rate === S.fanoutRate) ?? at.at(-1)!;
  const ok = rows.filter((r) => r.p99 <= 100 && r.connected === r.n && r.deliveries >= r.expected);
  const okTop = at.filter((r) => ok.includes(r));
  verdicts.push({ target: 'fan-out: p99 commit→delivery ≤ 100 ms at 10k subscribers',
    measured: `p99 ${late(main.p99)} at ${f0(main.connected)} subscribers and ${main.rate} bids/s; largest N within 100 ms at ${S.fanoutRate} bids/s: ` +
      `${ok.filter((r) => r.rate === S.fanoutRate).at(-1)?.n.toLocaleString('en-US') ?? 'none tried'}` +
      (at.length > 1 ? `; at ${f0(top)}: ${okTop.length ? `up to ${Math.max(...okTop.map((r) => r.rate))} bids/s within 100 ms` : 'no rate tried within 100 ms'}` : ''),
    met: main.connected >= 10_000 ? main.p99 <= 100 : false });
}

/** The limit a child gets after prlimit (equal to ours when raising is refused). */
function raisedLimit() {
  try {
    execFileSync('prlimit', [`--pid=${process.pid}`, '--nofile=200000:200000'], { stdio: 'ignore' });
    return openFileLimit();
  } catch {
    return openFileLimit();
  }
}

async function idle() {
  // The server needs a descriptor per socket plus a few hundred of its own (pool, LISTEN, files): stay under the
  // limit it will have (RLIMIT_NOFILE; root may raise it only with CAP_SYS_RESOURCE).
  const want = S.idleN;
  const limit = Math.max(openFileLimit(), raisedLimit());
  const n0 = Math.min(want, limit - 300);
  if (n0 < want) console.log(`# idle: the instance's open-file limit is ${limit}: trying ${n0} sockets instead of ${want}`);
  const db = await freshDb(1);
  const srv = await startServer(db.url, {}, { nofile: 200_000, gc: true });
  try {
    const before = await srv.stats();
    const w = await watchers([srv.url], n0, { firstUser: 100_000, holdMs: 5_000, perProc: 5_000 });
    await sleep(2_000);
    const after = await srv.stats();
    if (process.env.BENCH_PROFILE) console.log(`# heap snapshot: ${(await srv.child.request({ type: 'heap-snapshot' }, 'heap-snapshot')).file}`);
    for (const p of w.procs) p.go();
    const results = await Promise.all(w.procs.map((p) => p.result));
    const stillOpen = results.reduce((s, r) => s + r.connected, 0);
    const n = after.connections as number;
    const perSocket = ((after.rss as number) - (before.rss as number)) / n;
    const heapPer = ((after.heapUsed as number) - (before.heapUsed as number)) / n;
    report(`4. Connections: ${f0(n0)} idle sockets, one instance`, table(
      ['sockets held', 'setup', 'connects/s', 'RSS before', 'RSS after', 'RSS per socket', 'JS heap per socket', 'open after 5 s hold'],
      [[`${f0(n)} of ${f0(n0)}${w.failed ? ` (${w.failed} failed: ${w.firstError})` : ''}`, `${w.setupS.toFixed(1)} s`, f0(w.connected / w.setupS),
        `${f0((before.rss as number) / 2 ** 20)} MiB`, `${f0((after.rss as number) / 2 ** 20)} MiB`, `${f1(perSocket / 1024)} KiB`, `${f1(heapPer / 1024)} KiB`, f0(stillOpen)]]) +
      (n0 < want ? `\n\nAsked for ${f0(want)}; the instance's open-file limit is ${limit} and stays there: ${nofileRefusal()}. So ${f0(n0)} were tried.` : '') +
      '\n\nEach socket is its own user (token verified, user row ensured), no auction subscription, and it sends nothing: so no `user:<id>` LISTEN ' +
      '(a socket LISTENs on its user\'s channel from its first message on). RSS after a forced GC.');
    verdicts.push({ target: '≥ 20k idle sockets per instance at ≤ 15 KB each', measured: `${f0(n)} sockets, ${f1(perSocket / 1024)} KiB RSS each`, met: n >= 20_000 && perSocket <= 15 * 1024 });
  } finally {
    await srv.close();
  }
}

async function channels() {
  // Two instances up at once, each on its own database: one watching 10 auctions, one watching S.channelsN.
  // The same bid load (64 bidders over the first 10 auctions, watched by both) alternates between them in rounds.
  const setups: { srv: Server; ids: string[]; feeds: number; sockets: number; setupS: number; procs: Child<WatchResult>[] }[] = [];
  const runs: (BidRun & { feeds: number; setupS: number })[] = [];
  try {
    for (const watched of [10, S.channelsN]) {
      const db = await freshDb(S.channelsN);
      const srv = await startServer(db.url);
      const perSocket = watched <= 10 ? 1 : 100;
      const w = await watchers([srv.url], watched / perSocket, { firstUser: 200_000, auctions: db.ids, perSocket, slice: true, holdMs: 600_000 });
      setups.push({ srv, ids: db.ids, feeds: (await srv.stats()).feeds as number, sockets: w.connected, setupS: w.setupS, procs: w.procs });
      if (w.failed) throw new Error(`watchers failed: ${w.firstError}`);
      for (const p of w.procs) p.go();
    }
    const rounds: Round[][] = [[], []];
    const t0 = Date.now();
    for (let r = 0; r < S.rounds; r++) {
      for (let k = 0; k < 2; k++) {
        const v = (k + r) % 2;
        rounds[v].push(await socketRound([setups[v].srv],
          { auctions: setups[v].ids.slice(0, 10), bidders: S.bidders, firstBidder: 0, durationMs: S.durationMs, warmupMs: S.warmupMs, t0 }));
      }
    }
    for (const [v, st] of setups.entries()) {
      runs.push({ ...combine(`${f0(st.feeds)} auctions watched (${f0(st.sockets)} sockets)`, rounds[v]), feeds: st.feeds, setupS: st.setupS });
    }
  } finally {
    for (const st of setups) for (const p of st.procs) p.proc.send({ type: 'stop' });
    await Promise.all(setups.map((st) => st.srv.close()));
  }
  const [few, many] = runs;
  report(`5. Many channels: one instance LISTENing on ${f0(many.feeds)} auction channels vs ${few.feeds}`, table(
    ['run', 'subscribe setup', 'accepted bids/s', 'processed bids/s', 'p50', 'p99', 'mean batch', 'event-loop delay p99 / max', 'CPU: postgres / server / load (machine busy)', 'ratio (processed/s vs 10 watched)'],
    runs.map((r) => [r.label, `${r.setupS.toFixed(1)} s`, f0(r.acceptedPerS), f0(r.processedPerS), ms(r.p50), ms(r.p99), f1(r.batch), `${ms(r.loopP99 ?? NaN)} / ${ms(r.loopMax ?? NaN)}`,
      `${pc(r.pgCpu)} / ${pc(r.serverCpu ?? NaN)} / ${pc(r.loadCpu)} (${pc(r.busy)})`,
      `${(r.processedPerS / few.processedPerS).toFixed(2)}×`])) +
    '\n\nBoth runs: 64 bidders over the same 10 auctions (each watched by one socket); only the number of other watched auctions differs. Rounds alternate between the two instances.');
}

async function ending() {
  const file = join(root, 'bench', 'ending.ts');
  if (!existsSync(file)) {
    report('6. Auction ending', 'Not run: bench/ending.ts does not exist in this tree.');
    return;
  }
  const out = await new Promise<string>((resolve) => {
    const p = spawn(process.execPath, [file, ...(QUICK ? ['200'] : [])], { env: { ...process.env, DATABASE_URL: adminUrl }, stdio: ['ignore', 'pipe', 'inherit'] });
    let text = '';
    p.stdout.on('data', (d) => { text += d; });
    const timer = setTimeout(() => p.kill('SIGKILL'), QUICK ? 90_000 : 180_000);
    p.on('error', (err) => { clearTimeout(timer); resolve(`bench/ending.ts could not start: ${err.message}`); });
    p.on('exit', (code) => { clearTimeout(timer); resolve(code === 0 ? text.trim() : `${text.trim()}\n\n(bench/ending.ts exited with ${code})`); });
  });
  report('6. Auction ending (bench/ending.ts)', out);
}

// ---------------------------------------------------------------- main

/** The commit measured, and whether src/ or sql/ had uncommitted changes (other work in the same tree). */
function gitState() {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root }).toString().trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'sql'], { cwd: root }).toString().trim().split('\n').filter(Boolean).length;
    return dirty ? `${head} + uncommitted changes in ${dirty} file(s) under src/ or sql/` : head;
  } catch {
    return 'unknown';
  }
}

async function facts(sql: Sql) {
  const [{ version }] = await sql`select version()`;
  const settings = await sql<{ name: string; setting: string; unit: string | null }[]>`
    select name, setting, unit from pg_settings where name in ('fsync', 'synchronous_commit', 'shared_buffers', 'max_connections', 'wal_level')`;
  return {
    date: new Date().toISOString(),
    cpu: `${cpus().length} × ${cpus()[0]?.model ?? 'unknown'}`,
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    postgres: String(version).split(' on ')[0] + (process.env.BENCH_DATABASE_URL ? ' (BENCH_DATABASE_URL)' : ' (embedded, disposable)'),
    settings: settings.map((s) => `${s.name}=${s.setting}${s.unit && s.unit !== 'bool' ? s.unit : ''}`).join(', '),
    node: process.version,
    code: gitState(),
    load: loadavg().map((x) => x.toFixed(2)).join(' '),
  };
}

const scenarios: [string, () => Promise<void>][] = [
  ['spread', spread], ['hot', hot], ['fanout', fanout], ['idle', idle], ['channels', channels], ['ending', ending]];

let code = 0;
const started = Date.now();
const stopAll = () => { for (const c of children) c.stop(); };
process.on('SIGINT', () => { stopAll(); process.exit(130); });
try {
  if (!adminUrl) {
    tmp = await mkdtemp(join(tmpdir(), 'auction-bench-'));
    await chmod(tmp, 0o755);
    cluster = await startEmbedded({ dir: tmp, persistent: false });
    adminUrl = cluster.url('postgres');
    console.log(`# disposable postgres on port ${cluster.port}`);
  }
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin`select 1`;
  } catch (err) {
    console.error(`cannot reach BENCH_DATABASE_URL: ${(err as Error).message}\nunset it to use a disposable embedded postgres`);
    throw err;
  }
  await admin.unsafe(`create database ${template}`);
  const m = facts(admin);
  const machine = await m;
  await admin.end();
  const tsql = postgres(urlFor(template), { max: 1, onnotice: () => {} });
  await migrate(tsql);
  await tsql.end();
  console.log(`# ${machine.cpu}, ${machine.memory}, ${machine.postgres}, Node ${machine.node}, load ${machine.load}${QUICK ? ', QUICK' : ''}`);
  if (Object.keys(OVERRIDES).length) console.log(`# instance settings: ${JSON.stringify(OVERRIDES)}`);

  for (const [name, fn] of scenarios) {
    if (ONLY && !ONLY.includes(name)) continue;
    const t = Date.now();
    try {
      await fn();
    } catch (err) {
      code = 1;
      console.error(`scenario ${name} failed:`, err);
      report(`${name}: FAILED`, '```\n' + String((err as Error).stack ?? err).slice(0, 2000) + '\n```');
    } finally {
      stopAll();
    }
    console.log(`# ${name} took ${((Date.now() - t) / 1000).toFixed(0)} s`);
  }
  const totalS = (Date.now() - started) / 1000;
  // a quick or partial run must not replace the full figures unless asked to
  if ((!QUICK && !ONLY) || process.env.BENCH_WRITE_DOCS === '1') {
    await writeReport(machine, totalS);
    console.log(`\n# done in ${totalS.toFixed(0)} s; wrote docs/benchmarks.md`);
  } else {
    console.log(`\n# done in ${totalS.toFixed(0)} s; docs/benchmarks.md left as is (BENCH_WRITE_DOCS=1 to write it)`);
  }
} catch (err) {
  console.error(err);
  code = 1;
} finally {
  stopAll();
  await dropDbs().catch(() => {});
  if (cluster) await cluster.stop().catch((e) => console.error('stopping postgres:', e));
  if (tmp) await rm(tmp, { recursive: true, force: true });
}
process.exit(code);

/** Replaces what lies between the results markers of docs/benchmarks.md; the hand-written text stays. */
async function writeReport(machine: Awaited<ReturnType<typeof facts>>, totalS: number) {
  const file = join(root, 'docs', 'benchmarks.md');
  const START = '<!-- results:start (written by make bench) -->';
  const END = '<!-- results:end -->';
  const body = [
    START,
    `Run ${machine.date}${QUICK ? ' with BENCH_QUICK=1 (short, small: not the figures to quote)' : ''}${ONLY ? ` (only: ${ONLY.join(', ')})` : ''}${process.env.BENCH_SERVER_ENV ? ` with BENCH_SERVER_ENV=${process.env.BENCH_SERVER_ENV}` : ''}, ${totalS.toFixed(0)} s in all.`,
    '',
    table(['machine', ''], [['CPU', machine.cpu], ['memory', machine.memory], ['PostgreSQL', machine.postgres], ['settings', machine.settings],
      ['Node', machine.node], ['code', machine.code], ['load average at start', machine.load]]),
    '',
    ...sections.flatMap((s) => [`### ${s.title}`, '', s.text, '']),
    '### Targets',
    '',
    table(['target', 'measured', 'met'], verdicts.map((v) => [v.target, v.measured, v.met === undefined ? '–' : v.met ? 'yes' : '**no**'])),
    END,
  ].join('\n');
  let text = existsSync(file) ? await readFile(file, 'utf8') : `# Benchmarks\n\n${START}\n${END}\n`;
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  text = a >= 0 && b > a ? text.slice(0, a) + body + text.slice(b + END.length) : `${text.trimEnd()}\n\n${body}\n`;
  await writeFile(file, text);
}
