import fp from 'fastify-plugin';
import { PgBoss } from 'pg-boss';
import type { TransactionSql } from 'postgres';
import type { Scheduler } from '../domain/auctions.ts';
import {
  END_QUEUE, START_QUEUE, SWEEP_QUEUE, queueOptions, runEndJobs, runStartJobs, scheduleAuction, type LifecycleJob,
} from './jobs.ts';
import { BOSS_SCHEMA, sweep } from './sweep.ts';

// the server ends connections: admin_shutdown, crash_shutdown, cannot_connect_now
const ADMIN_SHUTDOWN = new Set(['57P01', '57P02', '57P03']);

/**
 * How a pg-boss 'error' event is logged. pg-boss hangs its pg client on some errors (kilobytes of JSON):
 * the log gets the message, code and stack only. The server ending our connections is a warning (pg-boss
 * reconnects), and expected while this instance closes (a database restarted or stopped along with it).
 */
export function bossErrorLog(err: unknown, closing: boolean) {
  const { message, code, stack } = (err ?? {}) as Error & { code?: string };
  if (ADMIN_SHUTDOWN.has(code ?? '')) {
    return { level: closing ? 'info' as const : 'warn' as const, fields: { code, message }, msg: 'pg-boss: the database closed a connection' };
  }
  return { level: 'error' as const, fields: { err: { message, code, stack } }, msg: 'pg-boss error' };
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Enqueues the auction's start and end jobs inside the caller's transaction `tx`. */
    scheduleAuction: Scheduler;
  }
}

export type LifecycleOptions = {
  /** Jobs fetched (and ended in one transaction) at a time, per worker. */
  batchSize?: number;
  /** Workers per queue on this instance. */
  localConcurrency?: number;
  /** In-process sweep period; the pg-boss cron sweep (SWEEP_CRON) runs besides it. 0 turns it off. */
  sweepIntervalMs?: number;
};

/**
 * Auctions start and end by themselves: pg-boss jobs at start_time/end_time (issue 4), a catch-up at
 * start-up and a sweep for what the jobs miss. Ending is idempotent under the row lock, so a job run
 * twice, or a job and a sweep together, still end an auction once.
 */
export default fp(async (app, opts: LifecycleOptions) => {
  const cfg = app.config;
  const localConcurrency = opts.localConcurrency ?? Math.max(1, Math.ceil(cfg.JOB_CONCURRENCY / 4));
  const batchSize = opts.batchSize ?? Math.max(1, cfg.JOB_CONCURRENCY * 4);
  const sweepIntervalMs = opts.sweepIntervalMs ?? 5_000;
  const sql = app.pg.sql;

  const boss = new PgBoss({
    connectionString: cfg.databaseUrl,
    schema: BOSS_SCHEMA,
    // fetches and completions are short: workers share a few connections with maintenance and cron
    max: localConcurrency + 2,
    application_name: 'auction-jobs',
    instanceName: cfg.INSTANCE_ID,
    // the owner installs and upgrades pg-boss's schema (src/db/owner.ts); the service role may not
    migrate: cfg.DATABASE_OWNER_URL === undefined,
  });
  let up = false;
  let closing = false;
  boss.on('error', (err) => {
    const { level, fields, msg } = bossErrorLog(err, closing);
    app.log[level](fields, msg);
  });
  await boss.start();
  up = true;
  try {
    for (const q of [START_QUEUE, END_QUEUE]) await boss.createQueue(q, queueOptions);
    // singleton: one sweep runs at a time across instances; a missed one is just skipped
    await boss.createQueue(SWEEP_QUEUE, { policy: 'singleton', expireInSeconds: 300, retryLimit: 0, deleteAfterSeconds: 3600 });
  } catch (err) {
    await boss.stop({ graceful: false }).catch(() => {}); // a failed start-up must not leave the pool open
    throw err;
  }

  app.decorate('scheduleAuction', (tx: TransactionSql, a: { id: string; start_time: Date; end_time: Date }) =>
    scheduleAuction(boss, tx, a));

  // Catch-up: auctions that came due while every instance was down, and open ones with no job.
  const caughtUp = await sweep(boss, sql);
  if (caughtUp.ended + caughtUp.started + caughtUp.endJobs + caughtUp.startJobs > 0) {
    app.log.info(caughtUp, 'lifecycle catch-up');
  }

  let sweeping: Promise<unknown> = Promise.resolve();
  const runSweep = (horizonSeconds?: number) => {
    sweeping = sweeping.then(() => closing ? undefined : sweep(boss, sql, { horizonSeconds }))
      .then((r) => {
        if (r && r.ended + r.started + r.endJobs + r.startJobs > 0) app.log.info(r, 'lifecycle sweep found work the jobs missed');
      })
      .catch((err) => app.log.error({ err }, 'lifecycle sweep failed'));
    return sweeping;
  };

  // Delayed jobs are only found by polling (>= 0.5 s), so the workers of a queue poll out of phase:
  // a job that comes due waits about JOB_POLL_SECONDS / localConcurrency for a fetch, not a full period.
  const work = { batchSize, localConcurrency: 1, pollingIntervalSeconds: cfg.JOB_POLL_SECONDS, burstWhenBatchFull: true };
  const stagger = (cfg.JOB_POLL_SECONDS * 1000) / localConcurrency;
  await Promise.all([
    [END_QUEUE, (jobs: { data: LifecycleJob }[]) => runEndJobs(boss, sql, jobs)] as const,
    [START_QUEUE, (jobs: { data: LifecycleJob }[]) => runStartJobs(boss, sql, jobs)] as const,
  ].map(async ([queue, handler]) => {
    for (let i = 0; i < localConcurrency; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, stagger));
      await boss.work<LifecycleJob>(queue, work, async (jobs) => handler(jobs));
    }
  }));
  await boss.work(SWEEP_QUEUE, async () => { await runSweep(); });
  await boss.schedule(SWEEP_QUEUE, cfg.SWEEP_CRON);

  // The tight sweep bounds the lateness of what the jobs miss; its missing-job check looks 2 minutes ahead.
  const timer = sweepIntervalMs > 0 ? setInterval(() => void runSweep(120), sweepIntervalMs) : undefined;
  timer?.unref();

  app.readinessChecks.set('jobs', () => up && !closing);

  // from the first close step: a database going down with this instance may drop us before onClose
  app.addHook('preClose', async () => { closing = true; });
  app.addHook('onClose', async () => {
    closing = true;
    if (timer) clearInterval(timer);
    await sweeping;
    // Graceful: running handlers finish; jobs still active at the deadline are failed, so another
    // instance retries them (a killed instance's jobs are retried after expireInSeconds instead).
    await boss.stop({ graceful: true, timeout: cfg.SHUTDOWN_GRACE_MS, close: true });
    up = false;
  });
}, { name: 'lifecycle', dependencies: ['database'] });
