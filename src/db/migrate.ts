import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Sql } from 'postgres';

export const SQL_DIR = fileURLToPath(new URL('../../sql/', import.meta.url));

// Arbitrary but fixed: every instance migrating at once queues on this one advisory lock.
const MIGRATION_LOCK = 7_271_001;

export type Migration = { id: number; name: string; file: string };

export async function listMigrations(dir = SQL_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => /^\d{6}_[a-z0-9_]+\.sql$/.test(f)).sort();
  return files.map((file) => ({ id: Number(file.slice(0, 6)), name: file.slice(7, -4), file }));
}

export class DatabaseAheadError extends Error {}

/** Which of this code's migrations the database has (with when), which it lacks, and any it has that this code does not know. */
export async function migrationStatus(sql: Sql, dir = SQL_DIR) {
  const files = await listMigrations(dir);
  const [{ present }] = await sql<{ present: boolean }[]>`select to_regclass('public.auction_migrations') is not null as present`;
  const rows = present
    ? await sql<{ id: number; name: string; applied_at: Date }[]>`select id, name, applied_at from public.auction_migrations order by id`
    : [];
  const done = new Map(rows.map((r) => [r.id, r.applied_at]));
  return {
    applied: files.filter((m) => done.has(m.id)).map((m) => ({ ...m, appliedAt: done.get(m.id)! })),
    pending: files.filter((m) => !done.has(m.id)),
    unknown: rows.filter((r) => !files.some((m) => m.id === r.id)).map((r) => ({ id: r.id, name: r.name, appliedAt: r.applied_at })),
  };
}

/**
 * Applies sql/NNNNNN_*.sql in order, one transaction and one row in auction_migrations per file.
 * The files run over the simple protocol because they hold many statements
 * (kysely-postgres-js always prepares, which allows one statement per query).
 */
export async function migrate(sql: Sql, opts: { dir?: string; log?: (msg: string) => void } = {}) {
  const log = opts.log ?? (() => {});
  const migrations = await listMigrations(opts.dir);
  const applied: string[] = [];
  await sql.reserve().then(async (conn) => {
    try {
      await conn`select pg_advisory_lock(${MIGRATION_LOCK})`;
      await conn.unsafe(`
        create table if not exists public.auction_migrations (
          id int primary key, name text not null, applied_at timestamptz not null default now())`).simple();
      const done = await conn<{ id: number }[]>`select id from public.auction_migrations order by id`;
      const doneIds = new Set(done.map((r) => r.id));
      const latest = migrations.at(-1)?.id ?? 0;
      const ahead = done.filter((r) => r.id > latest);
      if (ahead.length > 0) {
        throw new DatabaseAheadError(
          `database has migration ${ahead.at(-1)!.id} but this code only knows up to ${latest}: ` +
            'refusing to start an older version against a newer schema');
      }
      for (const m of migrations) {
        if (doneIds.has(m.id)) continue;
        const text = await readFile(`${opts.dir ?? SQL_DIR}/${m.file}`, 'utf8');
        await conn.unsafe('begin').simple();
        try {
          await conn.unsafe(text).simple();
          await conn`insert into public.auction_migrations (id, name) values (${m.id}, ${m.name})`;
          await conn.unsafe('commit').simple();
        } catch (err) {
          await conn.unsafe('rollback').simple();
          throw new Error(`migration ${m.file} failed: ${(err as Error).message}`, { cause: err });
        }
        applied.push(m.file);
        log(`applied ${m.file}`);
      }
    } finally {
      await conn`select pg_advisory_unlock(${MIGRATION_LOCK})`.catch(() => {});
      conn.release();
    }
  });
  return applied;
}
