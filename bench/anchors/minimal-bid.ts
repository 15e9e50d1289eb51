// The database's ceiling for the job: bids sent to bench_anchor.place_bid (bench/anchors/minimal-bid.sql), one per
// transaction or `batch` per transaction, over `connections` connections in a closed loop, by pgbench when it is
// installed (a C client: the least CPU a load can take from the database's share), else by postgres.js.
// Both send the same statement: the auction, bidder and amount are chosen in SQL, the amount by the bench's rule
// (rising 1 cent per 10 µs of the machine clock since load.t0, so a later bid outbids an earlier one).
import postgres from 'postgres';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BidTally, Hist, childMain, type BidLoad, type BidResult } from '../lib.ts';

type Params = { databaseUrl: string; connections: number; batch: number; load: BidLoad; driver: 'pgbench' | 'node' };

/** One transaction's statement; a batch locks its auctions in order, as auction.place_bids does, so batches cannot deadlock. */
function statement(p: Params) {
  const n = p.load.auctions.length;
  const amount = `10 + floor((extract(epoch from clock_timestamp()) * 1000 - ${p.load.t0}) * 100) / 100`;
  const bidder = `floor(random() * ${p.load.bidders})::int + ${p.load.firstBidder}`;
  const pick = `1 + floor(random() * ${n})::int`;
  return p.batch === 1
    ? `select bench_anchor.place_bid(${pick}, ${bidder}, ${amount}) as accepted`
    : `with b as materialized (select ${pick} as n from generate_series(1, ${p.batch}) order by 1) ` +
      `select bench_anchor.place_bid(b.n, ${bidder}, ${amount}) as accepted from b`;
}

await childMain<Params, BidResult>(async (p) => {
  const text = statement(p);
  const { load } = p;
  const sql = postgres(p.databaseUrl, { max: p.connections, onnotice: () => {}, connection: { application_name: 'bench-minimal-bid' } });
  const [{ auctions }] = await sql<{ auctions: number }[]>`select count(*)::int as auctions from bench_anchor.auctions`;
  if (auctions !== load.auctions.length) throw new Error(`bench_anchor.auctions holds ${auctions} auctions, not ${load.auctions.length}`);
  if (p.driver === 'node') await Promise.all(Array.from({ length: p.connections }, () => sql`select 1`)); // connected before the clock starts
  return {
    info: { driver: p.driver },
    run: async () => {
      try {
        return p.driver === 'pgbench' ? await viaPgbench(p, text, sql) : await viaNode(p, text, sql);
      } finally {
        await sql.end({ timeout: 5 });
      }
    },
  };
});

async function viaNode(p: Params, text: string, sql: postgres.Sql): Promise<BidResult> {
  const start = performance.now();
  const tally = new BidTally(start, p.load);
  const deadline = start + p.load.durationMs;
  await Promise.all(Array.from({ length: p.connections }, async () => {
    while (performance.now() < deadline) {
      const sentAt = performance.now();
      try {
        const rows = await sql.unsafe<{ accepted: boolean }[]>(text, [], { prepare: true });
        for (const r of rows) tally.done(sentAt, r.accepted ? 'accepted' : 'rejected', r.accepted ? undefined : 'not_higher_or_closed');
      } catch (err) {
        for (let k = 0; k < p.batch; k++) tally.done(sentAt, 'error', (err as { code?: string }).code ?? 'error');
      }
    }
  }));
  return tally.result();
}

/**
 * pgbench -T with a per-transaction log: transactions that started inside [start + warmup, start + duration) count,
 * start being the first transaction's; accepted bids are the rows bench_anchor.bids gained in that window.
 */
async function viaPgbench(p: Params, text: string, sql: postgres.Sql): Promise<BidResult> {
  const dir = mkdtempSync(join(tmpdir(), 'auction-bench-pgbench-'));
  try {
    writeFileSync(join(dir, 'bid.sql'), `${text};\n`);
    const seconds = Math.ceil(p.load.durationMs / 1000);
    const args = ['-n', '-M', 'prepared', '-c', String(p.connections), '-j', '1', '-T', String(seconds),
      '-f', join(dir, 'bid.sql'), '-l', `--log-prefix=${join(dir, 'tx')}`, p.databaseUrl];
    const { code, out } = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
      const c = spawn('pgbench', args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PGAPPNAME: 'bench-minimal-bid' } });
      let out = '';
      c.stdout.on('data', (d) => { out += d; });
      c.stderr.on('data', (d) => { out += d; });
      c.on('error', reject);
      c.on('exit', (code) => resolve({ code, out }));
    });
    if (code !== 0) throw new Error(`pgbench exited with ${code}:\n${out.slice(-2000)}`);
    const failed = Number(out.match(/number of failed transactions: (\d+)/)?.[1] ?? 0);
    const txs: { sent: number; ms: number }[] = [];
    for (const f of readdirSync(dir).filter((f) => f.startsWith('tx.'))) {
      for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
        const x = line.split(' ');
        if (x.length < 6) continue;
        const us = Number(x[2]);
        const done = Number(x[4]) * 1000 + Number(x[5]) / 1000; // ms since the epoch
        txs.push({ sent: done - us / 1000, ms: us / 1000 });
      }
    }
    if (!txs.length) throw new Error(`pgbench logged no transactions:\n${out.slice(-2000)}`);
    const start = Math.min(...txs.map((t) => t.sent));
    const from = start + p.load.warmupMs;
    const to = start + p.load.durationMs;
    const latency = new Hist();
    let processed = 0;
    for (const t of txs) {
      if (t.sent < from || t.sent >= to) continue;
      processed += p.batch;
      for (let k = 0; k < p.batch; k++) latency.record(t.ms);
    }
    const [{ accepted }] = await sql<{ accepted: number }[]>`
      select count(*)::int as accepted from bench_anchor.bids where created_at >= to_timestamp(${from / 1000}) and created_at < to_timestamp(${to / 1000})`;
    // the two counts agree up to a transaction per connection at each edge of the window (started inside, written
    // after it, or the other way round): so a run with every bid accepted may show a few more accepted than processed
    const rejected = Math.max(0, processed - accepted);
    return { sent: processed, accepted, rejected, errors: failed, windowMs: to - from,
      reasons: rejected ? { not_higher_or_closed: rejected } : {}, latency: latency.toJSON(), unanswered: 0 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
