// Where a bid's database time goes: bids sent straight to auction.place_bid / place_bids on a disposable
// cluster with pg_stat_statements (nested statements) and function tracking, then the top statements and
// functions by time. No service, no WebSocket: the database's own cost per bid, by statement.
//
//   node bench/sql-profile.ts [--batch=16] [--connections=2] [--bidders=64] [--auctions=1000] [--hot]
//                             [--accept-all] [--seconds=5] [--increments=fixed|table]
//
// --batch=1 calls place_bid (one bid per transaction); more calls place_bids with that many bids, each on a
// random auction (or all on one with --hot). --accept-all makes every amount higher than the last (no
// rejections). --increments=table gives the auctions eBay's increment table (the default rule) instead of a
// fixed 0.01. Timings are wall time inside PostgreSQL, so on a busy machine they include waiting for a CPU.
// The first lines give the database's cost per accepted bid, the figures to compare before and after a
// change to the bid path: the CPU time of the server processes serving the bench (user + system, from
// /proc, so the cluster must run on this machine), which a busy machine barely changes; and the top-level
// bid statements' wall time, which includes waiting for a CPU.
import postgres from 'postgres';
import { randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startEmbedded } from '../src/db/embedded.ts';
import { migrate } from '../src/db/migrate.ts';
import { createOpenAuctions } from './lib.ts';

const { values: o } = parseArgs({
  options: {
    batch: { type: 'string', default: '16' }, connections: { type: 'string', default: '2' }, bidders: { type: 'string', default: '64' },
    auctions: { type: 'string', default: '1000' }, hot: { type: 'boolean', default: false },
    'accept-all': { type: 'boolean', default: false }, seconds: { type: 'string', default: '5' },
    increments: { type: 'string', default: 'fixed' },
  },
});
const BATCH = Number(o.batch);
const dir = mkdtempSync(join(tmpdir(), 'auction-sql-profile-'));
chmodSync(dir, 0o755); // initdb runs as the postgres user when we are root
const cluster = await startEmbedded({ dir, persistent: false,
  settings: ['shared_preload_libraries=pg_stat_statements', 'pg_stat_statements.track=all', 'track_functions=all'] });
const sql = postgres(cluster.url(), { max: Number(o.connections), onnotice: () => {} });
try {
  await migrate(sql);
  await sql`create extension pg_stat_statements`;
  if (o.increments !== 'fixed' && o.increments !== 'table') throw new Error('--increments is fixed or table');
  const ids = await createOpenAuctions(sql, Number(o.auctions), '10.00', o.increments === 'table' ? null : '0.01');
  const users = Array.from({ length: Number(o.bidders) }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
  for (const u of users) await sql`select auction.ensure_user(${u}, 'bidder')`;
  await sql`vacuum analyze`;

  let cents = 1001;
  const run = async (ms: number) => {
    const t0 = Date.now();
    const end = t0 + ms;
    let n = 0;
    let accepted = 0;
    await Promise.all(users.map(async (u) => {
      while (Date.now() < end) {
        const a = Array.from({ length: BATCH }, () => (o.hot ? ids[0] : ids[Math.floor(Math.random() * ids.length)]));
        // accept-all: one rising counter; else amounts rise with the clock and concurrent bids collide
        const amounts = a.map((_, k) => (o['accept-all'] ? cents++ / 100 : 10 + (Date.now() - t0) / 10 + k / 100).toFixed(2));
        const rows = BATCH === 1
          ? await sql<{ accepted: boolean }[]>`select * from auction.place_bid(${a[0]}, ${u}, ${amounts[0]}::numeric, ${randomUUID()})`
          : await sql<{ accepted: boolean }[]>`select * from auction.place_bids(${a}::uuid[], ${a.map(() => u)}::uuid[], ${amounts}::numeric[], ${a.map(() => randomUUID())}::text[])`;
        n += BATCH;
        accepted += rows.filter((r) => r.accepted).length;
      }
    }));
    return { rate: n / ((Date.now() - t0) / 1000), accepted };
  };
  await run(1000); // warm-up: cached plans, a bid history, every connection open
  const pids = (await sql<{ pid: number }[]>`
    select pid from pg_stat_activity where datname = current_database() and backend_type = 'client backend'`).map((r) => r.pid);
  await sql`select pg_stat_statements_reset()`;
  await sql`select pg_stat_reset()`;
  const cpu0 = cpuMs(pids);
  const { rate, accepted } = await run(Number(o.seconds) * 1000);
  const cpu = cpuMs(pids) - cpu0;
  const [{ ms }] = await sql<{ ms: number }[]>`
    select coalesce(sum(total_exec_time), 0)::float8 as ms from pg_stat_statements
     where toplevel and query like '%auction.place_bid%' and query not like '%pg_stat%'`;
  console.log(`# ${(cpu * 1000 / Math.max(accepted, 1)).toFixed(1)} µs of database CPU per accepted bid ` +
    `(${accepted} accepted, ${(cpu / 1000).toFixed(2)} s CPU in ${pids.length} backends)`);
  console.log(`# ${(ms * 1000 / Math.max(accepted, 1)).toFixed(1)} µs of database wall time per accepted bid ` +
    `(${(ms / 1000).toFixed(2)} s in place_bid(s) statements)`);
  console.log(`# ${rate.toFixed(0)} bids/s processed (batch ${BATCH}, ${o.connections} connections, ${users.length} bidders, ` +
    `${o.hot ? 'one auction' : `${ids.length} auctions`}, ${o.increments} increments)`);
  console.table((await sql`
    select calls, round(total_exec_time::numeric, 1) as total_ms, round((total_exec_time / calls * 1000)::numeric, 1) as us_per_call,
           left(regexp_replace(query, '\\s+', ' ', 'g'), 110) as statement
      from pg_stat_statements where query not like '%pg_stat%' order by total_exec_time desc limit 15`).map((r) => ({ ...r })));
  console.table((await sql`
    select funcname as function, calls, round(self_time::numeric, 1) as self_ms, round((self_time / greatest(calls, 1) * 1000)::numeric, 1) as self_us_per_call
      from pg_stat_user_functions where calls > 0 order by self_time desc limit 10`).map((r) => ({ ...r })));
} finally {
  await sql.end();
  await cluster.stop();
  rmSync(dir, { recursive: true, force: true });
}

/** User + system CPU time of these processes so far, in ms (fields 14 and 15 of /proc/<pid>/stat, in clock ticks). */
function cpuMs(pids: number[]) {
  const tick = 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));
  return pids.reduce((sum, pid) => {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return sum + (Number(fields[11]) + Number(fields[12])) * tick;
  }, 0);
}
