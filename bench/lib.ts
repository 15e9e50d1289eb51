// Shared by the bench orchestrator (run.ts) and its child processes: a latency histogram, the bid price
// book every load generator uses, and the parent/child message protocol.
import { fork, execFileSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Sql } from 'postgres';
import { userIdFor } from '../src/auth/tokens.ts';

export const BENCH_SECRET = 'bench-secret-bench-secret-bench-secret-0';
export const ISSUER = 'auction-service';

/** Fixed 0.1 ms buckets up to 60 s: cheap to record millions of samples and to merge across processes. */
export class Hist {
  static readonly STEP = 0.1;
  counts = new Map<number, number>();
  n = 0;
  max = 0;
  record(ms: number) {
    const b = Math.max(0, Math.round(ms / Hist.STEP));
    this.counts.set(b, (this.counts.get(b) ?? 0) + 1);
    this.n++;
    if (ms > this.max) this.max = ms;
  }
  merge(o: HistJson) {
    for (const [b, c] of o.counts) this.counts.set(b, (this.counts.get(b) ?? 0) + c);
    this.n += o.n;
    this.max = Math.max(this.max, o.max);
    return this;
  }
  toJSON(): HistJson {
    return { counts: [...this.counts], n: this.n, max: this.max };
  }
  pct(p: number): number {
    if (this.n === 0) return NaN;
    const want = Math.ceil((p / 100) * this.n);
    let seen = 0;
    for (const b of [...this.counts.keys()].sort((x, y) => x - y)) {
      seen += this.counts.get(b)!;
      if (seen >= want) return b * Hist.STEP;
    }
    return this.max;
  }
  static from(parts: HistJson[]) {
    const h = new Hist();
    for (const p of parts) h.merge(p);
    return h;
  }
}
export type HistJson = { counts: [number, number][]; n: number; max: number };

/**
 * Bid amounts rise with the wall clock (1 cent per 10 µs since the run's t0), the same in every process:
 * a later bid outbids every earlier one on any auction, so the load does not depend on what each bidder
 * happens to know, and a bid is only rejected when a concurrent bid on the same auction overtook it.
 */
export function amountAt(t0: number, extraCents = 0): string {
  const c = 1000 + Math.floor((performance.timeOrigin + performance.now() - t0) * 100) + extraCents;
  return `${Math.floor(c / 100)}.${String(c % 100).padStart(2, '0')}`;
}

export const bidderName = (i: number) => `bench-bidder-${i}`;
export const bidderId = (i: number) => userIdFor(bidderName(i));

/** The load shape shared by the WebSocket bidders and the direct-SQL baseline, so both send the same bids. */
export type BidLoad = {
  auctions: string[]; // spread: a random one per bid; hot: a single one
  bidders: number;
  firstBidder: number; // bidder index offset (each bidder is its own user)
  durationMs: number;
  warmupMs: number; // replies in the first warmupMs are not counted
  t0: number; // wall-clock ms the bid amounts count from (amountAt)
};

export function pickAuction(load: BidLoad) {
  return load.auctions.length === 1 ? load.auctions[0] : load.auctions[Math.floor(Math.random() * load.auctions.length)];
}

export type BidResult = {
  sent: number; accepted: number; rejected: number; errors: number; windowMs: number;
  reasons: Record<string, number>; latency: HistJson; unanswered: number; cpuSeconds?: number; runMs?: number;
};

/** Counts replies inside the measuring window [start + warmup, start + duration]. */
export class BidTally {
  sent = 0; accepted = 0; rejected = 0; errors = 0; unanswered = 0;
  reasons: Record<string, number> = {};
  latency = new Hist();
  private from: number;
  private to: number;
  constructor(start: number, load: BidLoad) {
    this.from = start + load.warmupMs;
    this.to = start + load.durationMs;
  }
  counts(sentAt: number) {
    return sentAt >= this.from && sentAt < this.to;
  }
  done(sentAt: number, outcome: 'accepted' | 'rejected' | 'error', reason?: string) {
    if (!this.counts(sentAt)) return;
    const now = performance.now();
    this.sent++;
    if (outcome === 'accepted') this.accepted++;
    else if (outcome === 'rejected') this.rejected++;
    else this.errors++;
    if (reason) this.reasons[reason] = (this.reasons[reason] ?? 0) + 1;
    this.latency.record(now - sentAt);
  }
  result(): BidResult {
    return { sent: this.sent, accepted: this.accepted, rejected: this.rejected, errors: this.errors,
      windowMs: this.to - this.from, reasons: this.reasons, latency: this.latency.toJSON(), unanswered: this.unanswered };
  }
}

// ---- parent <-> child protocol: the child sends {type:'ready', ...}, waits for 'go', sends {type:'result', ...}

export type ChildMsg = { type: string; [k: string]: unknown };

/** In a child: report ready, wait for go, run, report the result, exit. Bounded by a hard timer. */
export async function childMain<P, R>(setup: (p: P) => Promise<{ info?: Record<string, unknown>; run: () => Promise<R> }>) {
  const params = childParams<P & { hardLimitMs?: number }>();
  const limit = setTimeout(() => {
    console.error(`${process.argv[1]}: hard time limit reached; exiting`);
    process.exit(3);
  }, params.hardLimitMs ?? 300_000);
  limit.unref();
  process.on('disconnect', () => process.exit(0)); // the parent is gone
  try {
    const { info, run } = await setup(params);
    const go = new Promise<void>((resolve) => process.on('message', (m: ChildMsg) => { if (m.type === 'go') resolve(); }));
    process.send!({ type: 'ready', ...info });
    await go;
    const cpu0 = process.cpuUsage();
    const kids0 = childrenCpuSeconds();
    const t0 = performance.now();
    const prof = await startProfile();
    const result = await run();
    await prof?.stop();
    const runMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const kids = childrenCpuSeconds() - kids0; // a load this process ran as a program (pgbench)
    if (result && typeof result === 'object') Object.assign(result, { cpuSeconds: (cpu.user + cpu.system) / 1e6 + kids, cpuSystemSeconds: cpu.system / 1e6, runMs });
    process.send!({ type: 'result', result }, () => process.exit(0));
  } catch (err) {
    process.send!({ type: 'failed', error: (err as Error).stack ?? String(err) }, () => process.exit(1));
  }
}

/**
 * BENCH_PROFILE=<dir>: a V8 CPU profile of the measured part only (from 'go' to the result in load generators,
 * between 'profile-start' and 'profile-stop' in an instance), written as <dir>/<script>-<pid>-<n>.cpuprofile.
 * Summarize with `node bench/profile-summary.ts <dir>` or open in Chrome DevTools.
 */
let profiles = 0;
export async function startProfile() {
  const dir = process.env.BENCH_PROFILE;
  if (!dir) return undefined;
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 500 });
  await session.post('Profiler.start');
  return {
    async stop() {
      const { profile } = await session.post('Profiler.stop');
      const name = process.argv[1].split('/').pop()!.replace(/\.ts$/, '');
      writeFileSync(join(dir, `${name}-${process.pid}-${++profiles}.cpuprofile`), JSON.stringify(profile));
      session.disconnect();
    },
  };
}

/** A process's /proc/<pid>/stat fields from the third (state) on, so field k of proc(5) is at index k - 3. */
export function statFields(pid: number | string) {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}
const TICK = 100; // USER_HZ

/** CPU seconds of this process's children that have exited and been waited for (cutime + cstime). */
function childrenCpuSeconds() {
  const f = statFields('self');
  return (Number(f[13]) + Number(f[14])) / TICK;
}

export type Child<R> = {
  proc: ChildProcess;
  ready: Promise<ChildMsg>;
  result: Promise<R>;
  go: () => void;
  request: (m: ChildMsg, replyType: string) => Promise<ChildMsg>;
  stop: () => void;
};

let warnedNofile = false;
let paramsCount = 0;
let paramsDir: string | undefined;

// Parameters travel in a file: 10,000 auction ids do not fit in an environment variable (E2BIG).
// Only the parent writes them; the directory goes when the parent exits.
function paramsFile(params: Record<string, unknown>) {
  if (!paramsDir) {
    const dir = mkdtempSync(join(tmpdir(), 'auction-bench-params-'));
    paramsDir = dir;
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  const file = join(paramsDir, `${++paramsCount}.json`);
  writeFileSync(file, JSON.stringify(params));
  return file;
}

export function childParams<P>(): P {
  const file = process.env.BENCH_PARAMS_FILE;
  return (file ? JSON.parse(readFileSync(file, 'utf8')) : {}) as P;
}

/** This process's soft open-file limit, as children inherit it. */
export function openFileLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
  return Number(line?.split(/\s+/)[3] ?? NaN);
}

/**
 * Why RLIMIT_NOFILE stays where it is: raising a hard limit needs CAP_SYS_RESOURCE (bit 24 of the effective set),
 * even for root; a container runtime often drops it. fs.nr_open is the ceiling for those who have it.
 */
export function nofileRefusal(): string {
  const eff = readFileSync('/proc/self/status', 'utf8').match(/^CapEff:\s*([0-9a-f]+)/m)?.[1];
  const has = eff !== undefined && (BigInt(`0x${eff}`) >> 24n) & 1n;
  return has ? 'prlimit failed although CAP_SYS_RESOURCE is held (fs.nr_open?)' : `this process lacks CAP_SYS_RESOURCE (CapEff ${eff ?? 'unknown'}), so the hard limit cannot be raised, not even by root`;
}

const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));

/** Forks bench/<file> with its params; raises its open-file limit (root may) for socket-heavy children. */
export function startChild<R>(file: string, params: Record<string, unknown>, opts: { nofile?: number; execArgv?: string[] } = {}): Child<R> {
  const proc = fork(here(file), [], {
    env: { ...process.env, BENCH_PARAMS_FILE: paramsFile(params) },
    execArgv: opts.execArgv ?? [],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  if (opts.nofile && proc.pid) {
    try {
      execFileSync('prlimit', [`--pid=${proc.pid}`, `--nofile=${opts.nofile}:${opts.nofile}`], { stdio: 'ignore' });
    } catch {
      if (!warnedNofile) console.error(`# could not raise the open-file limit above ${openFileLimit()}: ${nofileRefusal()}`);
      warnedNofile = true;
    }
  }
  const listeners = new Set<(m: ChildMsg) => void>();
  proc.on('error', (err) => { for (const l of listeners) l({ type: 'failed', error: `${file}: ${err.message}` }); });
  proc.on('message', (m: ChildMsg) => { for (const l of listeners) l(m); });
  const waitFor = (type: string) => new Promise<ChildMsg>((resolve, reject) => {
    const exited = (code: number | null) => reject(new Error(`${file} exited (${code}) before '${type}'`));
    const l = (m: ChildMsg) => {
      if (m.type === type) { listeners.delete(l); proc.off('exit', exited); resolve(m); }
      else if (m.type === 'failed') { listeners.delete(l); proc.off('exit', exited); reject(new Error(`${file} failed: ${m.error}`)); }
    };
    listeners.add(l);
    proc.once('exit', exited);
  });
  const ready = waitFor('ready');
  const result = waitFor('result').then((m) => m.result as R);
  ready.catch(() => {});
  result.catch(() => {});
  return {
    proc, ready, result,
    go: () => proc.send({ type: 'go' }),
    request: (m, replyType) => { const p = waitFor(replyType); proc.send(m); return p; },
    stop: () => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL'); },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `one(0..count-1)`, `concurrency` at a time, until `deadline`: a watcher's bounded set-up. Failures are counted. */
export async function connectAll(count: number, concurrency: number, deadline: number, one: (k: number) => Promise<void>) {
  let next = 0;
  let failed = 0;
  let firstError: string | undefined;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count && Date.now() < deadline) {
      const k = next++;
      try {
        await one(k);
      } catch (err) {
        failed++;
        firstError ??= (err as Error).message;
      }
    }
  }));
  return { failed, firstError };
}

/**
 * A watcher's measuring window: answers the parent's 'count' and 'phase' messages (a phase hands over and resets
 * what `phase()` returns) until 'stop' or `holdMs`.
 */
export async function measureUntilStopped(holdMs: number, o: { deliveries: () => number; phase: () => Record<string, unknown> }) {
  const stop = new Promise<void>((resolve) => process.on('message', (m: { type: string }) => {
    if (m.type === 'stop') resolve();
    else if (m.type === 'count') process.send!({ type: 'count', deliveries: o.deliveries() });
    else if (m.type === 'phase') process.send!({ type: 'phase', ...o.phase() });
  }));
  await Promise.race([stop, sleep(holdMs)]);
}

/** The seller of every bench auction. */
export const BENCH_SELLER = '00000000-0000-4000-8000-00000000beef';

/** `n` auctions by BENCH_SELLER, open from a second ago for three hours, at `startingPrice` with a 0.01 increment. */
/** minIncrement null: eBay's increment table, the default for auctions created without one. */
export async function createOpenAuctions(sql: Sql, n: number, startingPrice: string, minIncrement: string | null = '0.01'): Promise<string[]> {
  await sql`select auction.ensure_user(${BENCH_SELLER}, 'bench seller')`;
  const rows = await sql<{ id: string }[]>`
    select (auction.create_auction(auction.create_item('bench item ' || g, '', ${BENCH_SELLER}::uuid), ${BENCH_SELLER}::uuid,
            clock_timestamp() - interval '1 second', clock_timestamp() + interval '3 hours', ${startingPrice}::numeric,
            ${minIncrement}::numeric)).id
      from generate_series(1, ${n}) g`;
  return rows.map((r) => r.id);
}
