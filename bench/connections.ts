// The connection scenarios: idle sockets per instance (memory), and many LISTEN channels (bid throughput with
// 10,000 auctions watched against 10).
import { execFileSync } from 'node:child_process';
import { nofileRefusal, openFileLimit, sleep, type Child } from './lib.ts';
import type { BenchDb } from './databases.ts';
import { startServer, watchers, type Server } from './processes.ts';
import { combine, socketRound, type BidRun, type Round } from './bids.ts';
import { S } from './settings.ts';
import { f0, f1, ms, pc, report, table, verdicts } from './report.ts';
import type { WatchResult } from './watchers.ts';

/** The limit a child gets after prlimit (equal to ours when raising is refused). */
function raisedLimit() {
  try {
    execFileSync('prlimit', [`--pid=${process.pid}`, '--nofile=200000:200000'], { stdio: 'ignore' });
    return openFileLimit();
  } catch {
    return openFileLimit();
  }
}

export async function idle(dbs: BenchDb[]) {
  // The server needs a descriptor per socket plus a few hundred of its own (pool, LISTEN, files): stay under the
  // limit it will have (RLIMIT_NOFILE; root may raise it only with CAP_SYS_RESOURCE).
  const want = S.idleN;
  const limit = Math.max(openFileLimit(), raisedLimit());
  const n0 = Math.min(want, limit - 300);
  if (n0 < want) console.log(`# idle: the instance's open-file limit is ${limit}: trying ${n0} sockets instead of ${want}`);
  const db = await dbs[0].fresh(1);
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
    console.log(`# idle: V8 committed by space, before → after (MiB): ${spaceGrowth(before.spaces, after.spaces)}`);
    report(`4. Connections: ${f0(n0)} idle sockets, one instance`, table(
      ['sockets held', 'setup', 'connects/s', 'RSS before', 'RSS after', 'RSS per socket', 'JS heap per socket', 'open after 5 s hold'],
      [[`${f0(n)} of ${f0(n0)}${w.failed ? ` (${w.failed} failed: ${w.firstError})` : ''}`, `${w.setupS.toFixed(1)} s`, f0(w.connected / w.setupS),
        `${f0((before.rss as number) / 2 ** 20)} MiB`, `${f0((after.rss as number) / 2 ** 20)} MiB`, `${f1(perSocket / 1024)} KiB`, `${f1(heapPer / 1024)} KiB`, f0(stillOpen)]]) +
      (n0 < want ? `\n\nAsked for ${f0(want)}; the instance's open-file limit is ${limit} and stays there: ${nofileRefusal()}. So ${f0(n0)} were tried.` : '') +
      '\n\nEach socket is its own user (token verified, user row ensured), no auction subscription, and it sends nothing: so no `user:<id>` LISTEN ' +
      '(a socket LISTENs on its user\'s channel from its first message on). RSS after a forced GC.');
    verdicts.push({ target: 'idle sockets: ≤ 8 KiB RSS each', measured: `${f1(perSocket / 1024)} KiB RSS each over ${f0(n)} sockets`, met: perSocket <= 8 * 1024 });
  } finally {
    await srv.close();
  }
}

function spaceGrowth(before: unknown, after: unknown) {
  const b = before as Record<string, number>, a = after as Record<string, number>;
  return Object.keys(a).filter((k) => Math.abs(a[k] - (b[k] ?? 0)) > 2 ** 20)
    .map((k) => `${k} ${f1((b[k] ?? 0) / 2 ** 20)} → ${f1(a[k] / 2 ** 20)}`).join(', ') || 'no space changed by more than 1 MiB';
}

export async function channels(dbs: BenchDb[]) {
  // Two instances up at once, each on its own database: one watching 10 auctions, one watching S.channelsN.
  // The same bid load (64 bidders over the first 10 auctions, watched by both) alternates between them in rounds.
  const setups: { srv: Server; ids: string[]; feeds: number; sockets: number; setupS: number; procs: Child<WatchResult>[] }[] = [];
  const runs: (BidRun & { feeds: number; setupS: number })[] = [];
  try {
    for (const watched of [10, S.channelsN]) {
      const db = await dbs[0].fresh(S.channelsN);
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
        rounds[v].push(await socketRound(dbs[0], [setups[v].srv],
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
