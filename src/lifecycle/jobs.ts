import type { PgBoss, Queue, JobInsert, Db as BossDb } from 'pg-boss';
import type { Sql, TransactionSql } from 'postgres';
import { metrics } from '../metrics.ts';

export const START_QUEUE = 'auction-start';
export const END_QUEUE = 'auction-end';
export const SWEEP_QUEUE = 'auction-sweep';

/** A job's payload: the auction and the time it was due, for the lag metric. */
export type LifecycleJob = { id: string; at: string };
export type Kind = 'start' | 'end';
type Row = { id: string; status: string; start_time: Date; end_time: Date; now: Date };

// 'short': at most one job in state created per (queue, singletonKey = auction id), so scheduling twice
// (service, sweep, a rescheduling job) leaves one pending job; the active one may still re-enqueue.
// A job whose instance died stays active until expireInSeconds, then is retried elsewhere.
export const queueOptions: Omit<Queue, 'name'> = {
  policy: 'short',
  expireInSeconds: 60,
  retryLimit: 20,
  retryDelay: 1,
  retryBackoff: true,
  retryDelayMax: 30,
  deleteAfterSeconds: 3600,
};

/** pg-boss statements on the caller's postgres.js transaction, so the jobs commit with the auction. */
export function inTransaction(tx: TransactionSql | Sql): BossDb {
  return {
    executeSql: async (text: string, values: unknown[] = []) => ({ rows: await tx.unsafe(text, values as never[]) }),
  };
}

export function jobFor(kind: Kind, a: { id: string; start_time: Date; end_time: Date }): JobInsert {
  const at = kind === 'start' ? a.start_time : a.end_time;
  return { data: { id: a.id, at: at.toISOString() }, startAfter: at, singletonKey: a.id };
}

/** Enqueues the start and end jobs of one auction inside `tx`; a kind that already has a pending job keeps it. */
export async function scheduleAuction(boss: PgBoss, tx: TransactionSql | Sql, a: { id: string; start_time: Date; end_time: Date }) {
  const db = inTransaction(tx);
  await boss.send(START_QUEUE, jobFor('start', a).data!, { ...jobFor('start', a), db });
  await boss.send(END_QUEUE, jobFor('end', a).data!, { ...jobFor('end', a), db });
}

function recordLag(kind: Kind, jobs: { data: LifecycleJob }[]) {
  const now = Date.now();
  for (const j of jobs) metrics.jobLag.observe({ kind }, Math.max(0, (now - Date.parse(j.data.at)) / 1000));
}

/**
 * Works a batch of end jobs in one transaction (one commit for the batch: NOTIFY serializes commits).
 * Auctions still open were extended: a new end job goes in for the new end_time, so none ends early.
 */
export async function runEndJobs(boss: PgBoss, sql: Sql, jobs: { data: LifecycleJob }[]) {
  recordLag('end', jobs);
  const rows = await sql<Row[]>`
    select id, status, start_time, end_time from auction.end_auctions_if_due(${jobs.map((j) => j.data.id)}::uuid[])`;
  const later = rows.filter((r) => r.status === 'pending' || r.status === 'active');
  if (later.length > 0) await boss.insert(END_QUEUE, later.map((r) => jobFor('end', r)));
  return { ended: rows.filter((r) => r.status === 'ended').length, rescheduled: later.length };
}

/** Works a batch of start jobs; an auction still pending with a later start_time gets a new start job. */
export async function runStartJobs(boss: PgBoss, sql: Sql, jobs: { data: LifecycleJob }[]) {
  recordLag('start', jobs);
  const rows = await sql<Row[]>`
    select id, status, start_time, end_time, clock_timestamp() as now
      from auction.start_auctions_if_due(${jobs.map((j) => j.data.id)}::uuid[])`;
  const later = rows.filter((r) => r.status === 'pending' && r.start_time > r.now);
  if (later.length > 0) await boss.insert(START_QUEUE, later.map((r) => jobFor('start', r)));
  return { started: rows.filter((r) => r.status === 'active').length, rescheduled: later.length };
}
