import type { PgBoss } from 'pg-boss';
import type { Sql } from 'postgres';
import { metrics } from '../metrics.ts';
import { END_QUEUE, START_QUEUE, jobFor } from './jobs.ts';

export const BOSS_SCHEMA = 'pgboss';

type Row = { id: string; start_time: Date; end_time: Date; late: number };

export type SweepResult = { ended: number; started: number; endJobs: number; startJobs: number };

/**
 * The safety net under the jobs: ends every open auction past its end_time, starts every due pending one
 * (psql-created auctions, jobs lost or stuck on a dead instance), then enqueues the jobs missing for open
 * auctions. `horizonSeconds` bounds the missing-job check to auctions due soon (cheap, every few
 * seconds); without it every open auction is checked (start-up and the cron sweep).
 */
export async function sweep(boss: PgBoss, sql: Sql, opts: { limit?: number; horizonSeconds?: number } = {}): Promise<SweepResult> {
  const limit = opts.limit ?? 500;
  const r: SweepResult = { ended: 0, started: 0, endJobs: 0, startJobs: 0 };
  for (;;) {
    const rows = await sql<Row[]>`
      select id, extract(epoch from ended_at - end_time)::float8 as late from auction.end_due_auctions(${limit})`;
    for (const x of rows) metrics.jobLag.observe({ kind: 'sweep_end' }, Math.max(0, x.late));
    r.ended += rows.length;
    if (rows.length < limit) break;
  }
  for (;;) {
    const rows = await sql<Row[]>`
      select id, extract(epoch from updated_at - start_time)::float8 as late from auction.start_due_auctions(${limit})`;
    for (const x of rows) metrics.jobLag.observe({ kind: 'sweep_start' }, Math.max(0, x.late));
    r.started += rows.length;
    if (rows.length < limit) break;
  }
  const horizon = opts.horizonSeconds ?? null;
  // A job in created, retry or active state counts: an active one ends or re-enqueues its auction.
  const noEndJob = await sql<Row[]>`
    select a.id, a.start_time, a.end_time from auction.auctions a
     where a.status in ('pending', 'active') and a.end_time > clock_timestamp()
       and (${horizon}::float8 is null or a.end_time < clock_timestamp() + make_interval(secs => ${horizon}::float8))
       and not exists (select 1 from ${sql(BOSS_SCHEMA)}.job j
                        where j.name = ${END_QUEUE} and j.singleton_key = a.id::text and j.state < 'completed')
     order by a.end_time limit ${limit}`;
  if (noEndJob.length > 0) await boss.insert(END_QUEUE, noEndJob.map((a) => jobFor('end', a)));
  r.endJobs = noEndJob.length;
  const noStartJob = await sql<Row[]>`
    select a.id, a.start_time, a.end_time from auction.auctions a
     where a.status = 'pending' and a.start_time > clock_timestamp()
       and (${horizon}::float8 is null or a.start_time < clock_timestamp() + make_interval(secs => ${horizon}::float8))
       and not exists (select 1 from ${sql(BOSS_SCHEMA)}.job j
                        where j.name = ${START_QUEUE} and j.singleton_key = a.id::text and j.state < 'completed')
     order by a.start_time limit ${limit}`;
  if (noStartJob.length > 0) await boss.insert(START_QUEUE, noStartJob.map((a) => jobFor('start', a)));
  r.startJobs = noStartJob.length;
  return r;
}
