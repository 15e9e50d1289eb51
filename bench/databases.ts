// The PostgreSQL servers a bench run uses: a disposable embedded cluster with fsync off (fast, the default
// for every scenario), a second one with fsync=on and synchronous_commit=on (durable: what users run), or
// BENCH_DATABASE_URL. Each holds a migrated template; every run gets its own database cloned from it.
import postgres from 'postgres';
import { readFileSync, readdirSync, statfsSync } from 'node:fs';
import { mkdtemp, rm, chmod, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmbedded, type EmbeddedCluster } from '../src/db/embedded.ts';
import { migrate } from '../src/db/migrate.ts';
import { createOpenAuctions, statFields } from './lib.ts';

const HISTORY = 20; // bids per auction before a run
const ANCHOR_SQL = fileURLToPath(new URL('./anchors/minimal-bid.sql', import.meta.url));

export type FreshDb = { url: string; ids: string[] };

export type BenchDb = {
  /** 'fsync off' or 'durable' (or the external server's settings) */
  label: string;
  durable: boolean;
  adminUrl: string;
  settings: () => Promise<string>;
  /** `auctions` open auctions with a history; `anchor` also loads bench/anchors/minimal-bid.sql over them */
  fresh: (auctions: number, opts?: { anchor?: boolean }) => Promise<FreshDb>;
  /** CPU seconds the server's processes used so far (NaN when it is not a local embedded cluster) */
  cpuSeconds: () => number;
  close: () => Promise<void>;
};

const TMPFS_MAGIC = 0x01021994; // statfs(2)
const withDb = (url: string, db: string) => url.replace(/\/[^/?]*(\?|$)/, `/${db}$1`);
let count = 0;

/** A disposable embedded cluster; durable: fsync and synchronous_commit on (later -c flags win over earlier ones). */
export async function embeddedDb(durable: boolean): Promise<BenchDb> {
  const dir = await mkdtemp(join(tmpdir(), 'auction-bench-'));
  await chmod(dir, 0o755); // initdb runs as the postgres user when we are root
  let cluster: EmbeddedCluster;
  try {
    cluster = await startEmbedded({ dir, persistent: false, settings: durable ? ['fsync=on', 'synchronous_commit=on'] : ['fsync=off'] });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  // on a tmpfs, fsync returns at once: the durable cluster would measure nothing durable
  if (durable && statfsSync(dir).type === TMPFS_MAGIC) console.log(`# ${dir} is on a tmpfs: the durable cluster's flushes cost nothing there (set TMPDIR to a disk)`);
  const db = await prepared(durable ? 'durable' : 'fsync off', durable, cluster.url('postgres'), join(dir, 'data'));
  return { ...db, close: async () => {
    await db.close();
    await cluster.stop().catch((e) => console.error('stopping postgres:', e));
    await rm(dir, { recursive: true, force: true });
  } };
}

/** An existing server: one role that may create databases; durability is whatever the server runs with. */
export async function externalDb(url: string): Promise<BenchDb> {
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const rows = await admin<{ name: string; setting: string }[]>`select name, setting from pg_settings where name in ('fsync', 'synchronous_commit')`;
    const s = Object.fromEntries(rows.map((r) => [r.name, r.setting]));
    const durable = s.fsync === 'on' && s.synchronous_commit !== 'off';
    return prepared(`BENCH_DATABASE_URL (${durable ? 'durable' : `fsync=${s.fsync}, synchronous_commit=${s.synchronous_commit}`})`, durable, url);
  } catch (err) {
    console.error(`cannot reach BENCH_DATABASE_URL: ${(err as Error).message}\nunset it to use a disposable embedded postgres`);
    throw err;
  } finally {
    await admin.end();
  }
}

async function prepared(label: string, durable: boolean, adminUrl: string, dataDir?: string): Promise<BenchDb> {
  const template = `bench_template_${process.pid}_${++count}`;
  const made: string[] = [];
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${template}`);
  await admin.end();
  const tsql = postgres(withDb(adminUrl, template), { max: 1, onnotice: () => {} });
  await migrate(tsql);
  await tsql.end();

  return {
    label, durable, adminUrl,
    settings: async () => {
      const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
      const rows = await sql<{ name: string; setting: string; unit: string | null }[]>`
        select name, setting, unit from pg_settings where name in ('fsync', 'synchronous_commit', 'shared_buffers', 'max_connections', 'wal_level') order by name`;
      await sql.end();
      return rows.map((s) => `${s.name}=${s.setting}${s.unit && s.unit !== 'bool' ? s.unit : ''}`).join(', ');
    },
    fresh: async (auctions, opts = {}) => {
      const name = `${template.replace('template', 'run')}_${made.length}`;
      const a = postgres(adminUrl, { max: 1, onnotice: () => {} });
      await a.unsafe(`create database ${name} template ${template}`);
      await a.end();
      made.push(name);
      const url = withDb(adminUrl, name);
      const sql = postgres(url, { max: 1, onnotice: () => {} });
      try {
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
        if (opts.anchor) await sql.unsafe(await readFile(ANCHOR_SQL, 'utf8'));
        await sql`vacuum analyze`;
        return { url, ids };
      } finally {
        await sql.end();
      }
    },
    cpuSeconds: () => (dataDir ? clusterCpu(dataDir) : NaN),
    close: async () => {
      const a = postgres(adminUrl, { max: 1, onnotice: () => {} });
      for (const n of [...made, template]) await a.unsafe(`drop database if exists ${n} with (force)`).catch(() => {});
      await a.end();
    },
  };
}

const TICK = 100; // USER_HZ

/** CPU seconds used by a cluster: the postmaster, its live children, and the children it reaped. */
function clusterCpu(dataDir: string) {
  try {
    const pm = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    const f = statFields(pm);
    let pg = (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / TICK;
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const c = statFields(d);
        if (Number(c[1]) === pm) pg += (Number(c[11]) + Number(c[12])) / TICK;
      } catch { /* gone */ }
    }
    return pg;
  } catch {
    return NaN;
  }
}

/** Busy and total CPU ticks of the whole machine so far. */
export function machineTicks() {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = cpu[3] + cpu[4];
  const total = cpu.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** The servers BENCH_DURABLE asks for: 0 = fsync off only, 1 = durable only, both (the default) = both. */
export async function benchDbs(choice: string | undefined): Promise<BenchDb[]> {
  const external = process.env.BENCH_DATABASE_URL;
  if (external) {
    if (choice) console.log('# BENCH_DURABLE has no effect with BENCH_DATABASE_URL: the bench uses that server as it is configured');
    return [await externalDb(external)];
  }
  const want = choice ?? 'both';
  if (!['0', '1', 'both'].includes(want)) throw new Error(`BENCH_DURABLE must be 0, 1 or both, not ${JSON.stringify(want)}`);
  const dbs: BenchDb[] = [];
  try {
    if (want !== '1') dbs.push(await embeddedDb(false));
    if (want !== '0') dbs.push(await embeddedDb(true));
  } catch (err) {
    for (const d of dbs) await d.close();
    throw err;
  }
  return dbs;
}
