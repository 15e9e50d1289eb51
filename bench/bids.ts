// The bid scenarios (spread, hot): the service against its baseline and the anchors, on every database of the run,
// in interleaved rounds. Also the round machinery the many-channels scenario reuses.
import { Hist, type BidLoad, type BidResult } from './lib.ts';
import { machineTicks, type BenchDb, type FreshDb } from './databases.ts';
import { child, startServer, type Server } from './processes.ts';
import { ANCHORS, ANCHOR_BATCH, BIDDER_PROCS, HOT_BATCH, POOL, S } from './settings.ts';
import { f0, f1, ms, pc, ratio, report, table, verdicts } from './report.ts';
import { pgbenchVersion } from './anchors/pgbench.ts';

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
export type BidRun = ReturnType<typeof mergeBids> & { label: string; batch?: number; dbMs?: number; serverCpu?: number; pgCpu: number; busy: number; loadCpu: number;
  loopP99?: number; loopMax?: number };

/** One variant's run in one round: the load processes' results, CPU used meanwhile, the server's counters. */
export type Round = { results: BidResult[]; wallS: number; pgS: number; busy: number; total: number; srv?: Record<'batches' | 'batchedBids' | 'dbSeconds' | 'dbCalls' | 'cpuSeconds', number>;
  loop?: { p99: number; max: number } };

export function combine(label: string, rounds: Round[]): BidRun {
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

export async function measured(db: BenchDb, start: () => void, results: () => Promise<BidResult[]>, server?: Server): Promise<Round> {
  const before = await server?.stats();
  await server?.profile(true);
  const pg0 = db.cpuSeconds();
  const m0 = machineTicks();
  const t0 = performance.now();
  start();
  const rs = await results();
  const wallS = (performance.now() - t0) / 1000;
  const pg1 = db.cpuSeconds();
  const m1 = machineTicks();
  await server?.profile(false);
  const after = await server?.stats();
  const srv = before && after ? Object.fromEntries((['batches', 'batchedBids', 'dbSeconds', 'dbCalls', 'cpuSeconds'] as const)
    .map((k) => [k, (after[k] as number) - (before[k] as number)])) as Round['srv'] : undefined;
  const loop = after ? { p99: after.loopP99Ms as number, max: after.loopMaxMs as number } : undefined; // since `before`
  return { results: rs, wallS, pgS: pg1 - pg0, busy: m1.busy - m0.busy, total: m1.total - m0.total, srv, loop };
}

/** One load process that talks to the database directly (baseline.ts, anchors/minimal-bid.ts). */
async function directRound(db: BenchDb, file: string, params: Record<string, unknown>, load: BidLoad): Promise<Round> {
  const c = child<BidResult>(file, { ...params, load, hardLimitMs: load.durationMs + 120_000 });
  await c.ready;
  return measured(db, () => c.go(), async () => [await c.result]);
}

/** 64 bidders over BIDDER_PROCS load processes against `servers`; the first server's counters give batch size and CPU. */
export async function socketRound(db: BenchDb, servers: Server[], load: BidLoad): Promise<Round> {
  const per = Math.ceil(load.bidders / BIDDER_PROCS);
  const procs = Array.from({ length: BIDDER_PROCS }, (_, k) => child<BidResult>('bidders.ts', {
    urls: servers.map((s) => s.url), load: { ...load, bidders: per, firstBidder: load.firstBidder + k * per },
    hardLimitMs: load.durationMs + 120_000,
  }));
  await Promise.all(procs.map((p) => p.ready));
  return measured(db, () => { for (const p of procs) p.go(); }, () => Promise.all(procs.map((p) => p.result)), servers[0]);
}

// ---------------------------------------------------------------- variants

type Kind = 'baseline' | 'off' | 'on' | 'minimal' | 'minimalBatch' | 'placeBids';
type Variant = { kind: Kind; db: BenchDb; ids: string[]; label: string; round: (load: BidLoad) => Promise<Round>; close?: () => Promise<void> };

const driver = () => (pgbenchVersion() ? 'pgbench' : 'node');
const driverName = (d: string) => (d === 'pgbench' ? 'pgbench' : 'postgres.js');

async function variant(kind: Kind, db: BenchDb, fresh: FreshDb): Promise<Variant> {
  const v = { kind, db, ids: fresh.ids };
  switch (kind) {
    case 'baseline':
      return { ...v, label: `baseline: place_bid direct, 1 bid/tx, ${POOL} connections`,
        round: (load) => directRound(db, 'baseline.ts', { databaseUrl: fresh.url, connections: POOL }, load) };
    case 'placeBids':
      return { ...v, label: `place_bids direct, ${HOT_BATCH} bids/call, 1 connection`,
        round: (load) => directRound(db, 'baseline.ts', { databaseUrl: fresh.url, connections: 1, batch: HOT_BATCH }, load) };
    case 'minimal':
    case 'minimalBatch': {
      const batch = kind === 'minimal' ? 1 : ANCHOR_BATCH;
      const d = driver();
      return { ...v, label: `minimal bid function, ${batch === 1 ? '1 bid' : `${batch} bids`}/tx, ${POOL} connections (${driverName(d)})`,
        round: (load) => directRound(db, 'anchors/minimal-bid.ts', { databaseUrl: fresh.url, connections: POOL, batch, driver: d }, load) };
    }
    case 'off':
    case 'on': {
      const server = await startServer(fresh.url, kind === 'off' ? { BID_BATCH_MAX: '1' } : {});
      return { ...v, label: kind === 'off' ? 'service, group commit off (BID_BATCH_MAX=1)' : 'service, group commit on (defaults)',
        round: (load) => socketRound(db, [server], load), close: () => server.close() };
    }
  }
}

type Compared = { db: BenchDb; runs: Map<Kind, BidRun> };

/**
 * Every kind on every database: each variant on its own database (and instance), run in S.rounds interleaved rounds,
 * the order rotating, so that noise from other work on the machine falls on all of them alike.
 */
async function compareBids(dbs: BenchDb[], auctions: number, kinds: Kind[]): Promise<Compared[]> {
  const vs: Variant[] = [];
  const rounds = new Map<Variant, Round[]>();
  try {
    for (const db of dbs) {
      for (const kind of kinds) {
        const v = await variant(kind, db, await db.fresh(auctions, { anchor: kind === 'minimal' || kind === 'minimalBatch' }));
        vs.push(v);
        rounds.set(v, []);
      }
    }
    const t0 = Date.now();
    for (let r = 0; r < S.rounds; r++) {
      for (let k = 0; k < vs.length; k++) {
        const v = vs[(k + r) % vs.length];
        rounds.get(v)!.push(await v.round({ auctions: v.ids, bidders: S.bidders, firstBidder: 0, durationMs: S.durationMs, warmupMs: S.warmupMs, t0 }));
      }
    }
  } finally {
    await Promise.all(vs.map((v) => v.close?.()));
  }
  return dbs.map((db) => ({ db, runs: new Map(vs.filter((v) => v.db === db).map((v) => [v.kind, combine(v.label, rounds.get(v)!)])) }));
}

// ---------------------------------------------------------------- tables

type Per = 'acceptedPerS' | 'processedPerS';
const each = (per: Per) => (per === 'acceptedPerS' ? 'accepted' : 'processed');
/** PostgreSQL CPU time per accepted (or processed) bid, in µs */
const pgPerBid = (r: BidRun | undefined, per: Per) => (r ? (r.pgCpu / r[per]) * 1e6 : NaN);
const us = (x: number) => (Number.isFinite(x) ? `${Math.round(x)} µs` : '–');

function bidTable(cs: Compared[], per: Per) {
  const rows = cs.flatMap(({ db, runs }) => {
    const base = runs.get('baseline')!;
    return [...runs.values()].map((r) => [
      ...(cs.length > 1 ? [db.label] : []), r.label, f0(r.acceptedPerS), f0(r.processedPerS), ms(r.p50), ms(r.p99), ms(r.max), f1(r.batch),
      r.dbMs === undefined ? '–' : ms(r.dbMs), `${pc(r.pgCpu)} / ${r.serverCpu === undefined ? '–' : pc(r.serverCpu)} / ${pc(r.loadCpu)} (${pc(r.busy)})`,
      us(pgPerBid(r, per)), r === base ? '1.00×' : ratio(r[per], base[per]), r.errors + r.unanswered]);
  });
  return table([...(cs.length > 1 ? ['database'] : []), 'run', 'accepted bids/s', 'processed bids/s', 'p50', 'p99', 'max', 'mean batch', 'mean tx',
    'CPU: postgres / server / load (machine busy)', `postgres CPU per ${each(per)} bid`, `ratio (${each(per)}/s vs baseline)`, 'errors'], rows);
}

/** The service (group commit on) as a ratio to each anchor on the same database, and PostgreSQL's CPU per bid in each. */
function anchorTable(cs: Compared[], per: Per, hot: boolean) {
  const rows = cs.map(({ db, runs }) => {
    const on = runs.get('on')!;
    const x = (k: Kind) => ratio(on[per], runs.get(k)?.[per] ?? NaN);
    const anchors: Kind[] = hot ? ['minimal', 'minimalBatch', 'placeBids'] : ['minimal', 'minimalBatch'];
    return [db.label, f0(on[per]), x('baseline'), ...anchors.map(x), [on, ...anchors.map((k) => runs.get(k))].map((r) => us(pgPerBid(r, per))).join(' / ')];
  });
  return table(['database', `service ${each(per)} bids/s`, 'vs baseline', 'vs minimal, 1 bid/tx', `vs minimal, ${ANCHOR_BATCH} bids/tx`,
    ...(hot ? [`vs place_bids, ${HOT_BATCH}/call, 1 connection`] : []),
    `postgres CPU per ${each(per)} bid: service / minimal 1/tx / minimal ${ANCHOR_BATCH}/tx${hot ? ` / place_bids ${HOT_BATCH}/call` : ''}`], rows);
}

const suffix = (db: BenchDb, dbs: Compared[]) => (dbs.length > 1 || db.durable ? ` (${db.label})` : '');

/**
 * The full stack as a ratio to each anchor, with the targets set for it (met: – where none is):
 * spread ≥ 1× the minimal function at 1 bid/tx with fsync off and ≥ 2× durable, 0.5× of it batched;
 * hot ≥ 0.7× of place_bids in 20-bid batches on one connection; PostgreSQL CPU ≤ 100 µs per accepted bid.
 */
function anchorVerdicts(name: string, cs: Compared[], per: Per, hot: boolean) {
  for (const { db, runs } of cs) {
    const on = runs.get('on')!;
    const vs = (k: Kind, what: string, atLeast?: number) => {
      const a = runs.get(k);
      if (!a) return;
      const x = on[per] / a[per];
      verdicts.push({ target: `${name} vs ${what}${atLeast === undefined ? '' : ` ≥ ${atLeast}×`}${suffix(db, cs)}`,
        measured: `${ratio(on[per], a[per])} (${f0(on[per])} vs ${f0(a[per])} ${each(per)}/s)`, met: atLeast === undefined ? undefined : x >= atLeast });
    };
    vs('minimal', 'the minimal bid function, 1 bid/tx', hot ? undefined : db.durable ? 2 : 1);
    vs('minimalBatch', `the minimal bid function, ${ANCHOR_BATCH} bids/tx`, hot ? undefined : 0.5);
    if (hot) vs('placeBids', `place_bids, ${HOT_BATCH}-bid batches on one connection`, 0.7);
    if (Number.isFinite(on.pgCpu)) {
      const perBid = pgPerBid(on, per);
      verdicts.push({ target: `${name}: PostgreSQL CPU per ${each(per)} bid${hot ? '' : ' ≤ 100 µs'}${suffix(db, cs)}`, met: hot ? undefined : perBid <= 100e-6,
        measured: `${us(perBid)} (minimal bid function: ${us(pgPerBid(runs.get('minimal'), per))} at 1 bid/tx, ${us(pgPerBid(runs.get('minimalBatch'), per))} at ${ANCHOR_BATCH}/tx)` });
    }
  }
}

const kindsFor = (hot: boolean): Kind[] => ['baseline', 'off', 'on', ...(ANCHORS ? ['minimal', 'minimalBatch', ...(hot ? ['placeBids'] as const : [])] as const : [])];

export async function spread(dbs: BenchDb[]) {
  const cs = await compareBids(dbs, S.spreadAuctions, kindsFor(false));
  report(`1. Spread: ${f0(S.spreadAuctions)} auctions, ${S.bidders} bidders, one instance`, bidTable(cs, 'acceptedPerS') +
    (ANCHORS ? `\n\nThe service against the anchors (same run, same rounds):\n\n${anchorTable(cs, 'acceptedPerS', false)}` : ''));
  for (const { db, runs } of cs) {
    const on = runs.get('on')!;
    const base = runs.get('baseline')!;
    verdicts.push({ target: `spread: accepted bids/s ≥ 3× the one-bid-per-transaction baseline${suffix(db, cs)}`,
      measured: `${ratio(on.acceptedPerS, base.acceptedPerS)} (${f0(on.acceptedPerS)} vs ${f0(base.acceptedPerS)}/s)`, met: on.acceptedPerS >= 3 * base.acceptedPerS });
  }
  if (ANCHORS) anchorVerdicts('spread', cs, 'acceptedPerS', false);
}

export async function hot(dbs: BenchDb[]) {
  const cs = await compareBids(dbs, 1, kindsFor(true));
  report(`2. Hot auction: 1 auction, ${S.bidders} bidders all raising`, bidTable(cs, 'processedPerS') +
    (ANCHORS ? `\n\nThe service against the anchors (same run, same rounds):\n\n${anchorTable(cs, 'processedPerS', true)}` : '') +
    `\n\nRejections (group commit on): ${cs.map(({ db, runs }) => `${cs.length > 1 ? `${db.label} ` : ''}${JSON.stringify(runs.get('on')!.reasons)}`).join('; ')}`);
  for (const { db, runs } of cs) {
    const on = runs.get('on')!;
    verdicts.push({ target: `hot auction: ≥ 10k processed bids/s${suffix(db, cs)}`,
      measured: `${f0(on.processedPerS)}/s (${ratio(on.processedPerS, runs.get('baseline')!.processedPerS)} baseline)`, met: on.processedPerS >= 10_000 });
  }
  if (ANCHORS) anchorVerdicts('hot auction', cs, 'processedPerS', true);
}
