// How late do auctions end when many end together? Creates N auctions (default 1,000) that all end at
// the same instant, on one instance, and measures when each auction_ended notification arrives relative
// to end_time. Run: node bench/ending.ts [N]   (env: DATABASE_URL of a server to create scratch databases
// on, else a disposable embedded Postgres; JOB_CONCURRENCY, JOB_POLL_SECONDS as for the service;
// BENCH_CONCURRENCY=4,16,64 to compare several settings in one run).
import { mkdtemp, rm, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import postgres from 'postgres';
import { startEmbedded, type EmbeddedCluster } from '../src/db/embedded.ts';
import { build } from '../src/build.ts';
import { loadConfig } from '../src/config.ts';
import { metrics } from '../src/metrics.ts';

const n = Number(process.argv[2] ?? 1000);
const settings = (process.env.BENCH_CONCURRENCY ?? process.env.JOB_CONCURRENCY ?? '16').split(',').map((s) => s.trim());
const withUrl = (url: string, db: string) => url.replace(/\/[^/?]*(\?|$)/, `/${db}$1`);

let cluster: EmbeddedCluster | undefined;
let tmp: string | undefined;
let adminUrl = process.env.DATABASE_URL;
const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)];

async function sweptCount() {
  const v = (await metrics.jobLag.get()).values.filter((x) => x.metricName === 'auction_job_lag_seconds_count' && x.labels.kind === 'sweep_end');
  return v.reduce((s, x) => s + x.value, 0);
}

async function run(concurrency: string) {
  const name = `bench_ending_${process.pid}_${concurrency}`;
  const admin = postgres(adminUrl!, { max: 1, onnotice: () => {} });
  await admin.unsafe(`drop database if exists ${name} with (force)`);
  await admin.unsafe(`create database ${name}`);
  const url = withUrl(adminUrl!, name);
  const config = loadConfig({ ...process.env, DATABASE_URL: url, JOB_CONCURRENCY: concurrency, LOG_LEVEL: 'warn', JWT_SECRET: 'b'.repeat(32) });
  const app = await build({ config, logger: process.env.BENCH_LOG === '1' });
  await app.ready();
  const sql = app.pg.sql;
  const seller = randomUUID();
  await sql`select auction.ensure_user(${seller}, 'seller')`;

  // Every auction_ended also goes to user:<seller>, so one channel hears them all.
  const listener = postgres(url, { max: 1, onnotice: () => {} });
  const arrived = new Map<string, number>();
  await listener.listen(`user:${seller}`, (payload) => {
    const e = JSON.parse(payload);
    if (e.type === 'auction_ended') arrived.set(e.auction_id, Date.now());
  });

  const [{ t }] = await sql<{ t: Date }[]>`select date_trunc('second', clock_timestamp()) + interval '20 seconds' as t`;
  const endAt = t.getTime();
  const sweptBefore = await sweptCount();
  const created = Date.now();
  for (let i = 0; i < n; i += 50) {
    await sql.begin(async (tx) => {
      const rows = await tx<{ id: string; start_time: Date; end_time: Date }[]>`
        select a.* from generate_series(1, ${Math.min(50, n - i)}) g,
          lateral auction.create_auction(auction.create_item('bench item ' || g, '', ${seller}), ${seller},
                                         clock_timestamp() - interval '1 second', ${t}, '1.00', '1.00') a`;
      for (const a of rows) await app.scheduleAuction(tx, a);
    });
  }
  if (Date.now() > endAt - 1000) throw new Error(`creating ${n} auctions took too long (${Date.now() - created} ms)`);

  const deadline = endAt + 120_000;
  while (arrived.size < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const late = [...arrived.values()].map((x) => x - endAt).sort((a, b) => a - b);
  const [db] = await sql<{ early: number; maxlate: number }[]>`
    select count(*) filter (where ended_at < end_time)::int as early,
           (extract(epoch from max(ended_at - end_time)) * 1000)::float8 as maxlate
      from auction.auctions`;
  const line = {
    JOB_CONCURRENCY: Number(concurrency), JOB_POLL_SECONDS: config.JOB_POLL_SECONDS, auctions: n, ended: arrived.size,
    first_ms: late[0], p50_ms: pct(late, 50), p99_ms: pct(late, 99), last_ms: late.at(-1),
    db_max_ended_at_minus_end_time_ms: Math.round(db.maxlate), ended_early: db.early,
    // the in-process sweep (every 5 s) may tick just after end_time and end some in one statement
    ended_by_sweep: (await sweptCount()) - sweptBefore,
  };
  console.log(JSON.stringify(line));
  await listener.end();
  await app.close();
  await admin.unsafe(`drop database if exists ${name} with (force)`);
  await admin.end();
  return line;
}

let code = 0;
try {
  if (!adminUrl) {
    tmp = await mkdtemp(join(tmpdir(), 'auction-bench-ending-'));
    await chmod(tmp, 0o755);
    cluster = await startEmbedded({ dir: tmp, persistent: false });
    adminUrl = cluster.url('postgres');
  }
  for (const c of settings) {
    const r = await run(c);
    if (r.ended < n || r.ended_early > 0) code = 1;
  }
} catch (err) {
  console.error(err);
  code = 1;
} finally {
  if (cluster) await cluster.stop().catch((e) => console.error('stopping postgres:', e));
  if (tmp) await rm(tmp, { recursive: true, force: true });
}
process.exit(code);
