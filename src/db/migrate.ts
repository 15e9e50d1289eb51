import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ReservedSql, Sql } from 'postgres';

export const SQL_DIR = fileURLToPath(new URL('../../sql/', import.meta.url));
/** Where the live definitions (functions, trigger functions, views) live, under the migrations' directory. */
export const FUNCTIONS_SUBDIR = 'functions';

// Arbitrary but fixed: every instance migrating at once queues on this one advisory lock.
const MIGRATION_LOCK = 7_271_001;

/** A numbered migration: a schema change, applied once, never edited once shipped. */
export type Migration = { id: number; name: string; file: string };
/** A function file: whole live definitions, applied again whenever its content changes. */
export type FunctionFile = { file: string; sha256: string; text: string };

export async function listMigrations(dir = SQL_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => /^\d{6}_[a-z0-9_]+\.sql$/.test(f)).sort();
  return files.map((file) => ({ id: Number(file.slice(0, 6)), name: file.slice(7, -4), file }));
}

/** sql/functions/*.sql in name order, which is the order they are applied in. */
export async function listFunctionFiles(dir = SQL_DIR): Promise<FunctionFile[]> {
  const sub = join(dir, FUNCTIONS_SUBDIR);
  const names = await readdir(sub).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? [] : Promise.reject(e)));
  const files = names.filter((f) => /^[a-z0-9_]+\.sql$/.test(f)).sort();
  return Promise.all(files.map(async (f) => {
    const text = await readFile(join(sub, f), 'utf8');
    return { file: `${FUNCTIONS_SUBDIR}/${f}`, sha256: createHash('sha256').update(text).digest('hex'), text };
  }));
}

export class DatabaseAheadError extends Error {}

export type MigrationStatus = {
  applied: (Migration & { appliedAt: Date })[];
  pending: Migration[];
  /** migrations the database has and this code does not know (newer code applied them) */
  unknown: { id: number; name: string; appliedAt: Date }[];
  /** function files whose content differs from what the database last applied, or that it never applied */
  changed: string[];
};

type Conn = Sql | ReservedSql;

async function readStatus(conn: Conn, migrations: Migration[], functions: FunctionFile[]): Promise<MigrationStatus> {
  const [{ m, f }] = await conn<{ m: boolean; f: boolean }[]>`
    select to_regclass('public.auction_migrations') is not null as m,
           to_regclass('public.auction_function_files') is not null as f`;
  const rows = m
    ? await conn<{ id: number; name: string; applied_at: Date }[]>`select id, name, applied_at from public.auction_migrations order by id`
    : [];
  const hashes = new Map(f
    ? (await conn<{ file: string; sha256: string }[]>`select file, sha256 from public.auction_function_files`)
        .map((r) => [r.file, r.sha256] as const)
    : []);
  const done = new Map(rows.map((r) => [r.id, r.applied_at]));
  return {
    applied: migrations.filter((x) => done.has(x.id)).map((x) => ({ ...x, appliedAt: done.get(x.id)! })),
    pending: migrations.filter((x) => !done.has(x.id)),
    unknown: rows.filter((r) => !migrations.some((x) => x.id === r.id)).map((r) => ({ id: r.id, name: r.name, appliedAt: r.applied_at })),
    changed: functions.filter((x) => hashes.get(x.file) !== x.sha256).map((x) => x.file),
  };
}

/** What migrate() would do now: applied and pending migrations, changed function files. Takes no lock. */
export async function migrationStatus(sql: Sql, dir = SQL_DIR): Promise<MigrationStatus> {
  return readStatus(sql, await listMigrations(dir), await listFunctionFiles(dir));
}

/**
 * Applies the pending sql/NNNNNN_*.sql in order, one transaction and one row in auction_migrations per
 * file, then every sql/functions/*.sql whose content changed (by sha256, kept in auction_function_files),
 * one transaction per file. After any migration every function file is applied again: a definition may
 * depend on the schema it changed (a view over `a.*`, a `%rowtype`). All of it under one advisory lock.
 * The files run over the simple protocol because they hold many statements
 * (kysely-postgres-js always prepares, which allows one statement per query).
 * Returns the files applied, migrations first.
 */
export async function migrate(sql: Sql, opts: { dir?: string; log?: (msg: string) => void } = {}) {
  const log = opts.log ?? (() => {});
  const dir = opts.dir ?? SQL_DIR;
  const migrations = await listMigrations(dir);
  const functions = await listFunctionFiles(dir);
  const applied: string[] = [];
  const conn = await sql.reserve();
  try {
    await conn`select pg_advisory_lock(${MIGRATION_LOCK})`;
    await conn.unsafe(`
      create table if not exists public.auction_migrations (
        id int primary key, name text not null, applied_at timestamptz not null default now());
      create table if not exists public.auction_function_files (
        file text primary key, sha256 text not null, applied_at timestamptz not null default now());`).simple();
    const status = await readStatus(conn, migrations, functions);
    const latest = migrations.at(-1)?.id ?? 0;
    const ahead = status.unknown.filter((r) => r.id > latest);
    if (ahead.length > 0) {
      throw new DatabaseAheadError(
        `database has migration ${ahead.at(-1)!.id} but this code only knows up to ${latest}: ` +
          'refusing to start an older version against a newer schema');
    }
    for (const m of status.pending) {
      const text = await readFile(join(dir, m.file), 'utf8');
      await inTransaction(conn, m.file, text, (tx) => tx`insert into public.auction_migrations (id, name) values (${m.id}, ${m.name})`);
      applied.push(m.file);
      log(`applied ${m.file}`);
    }
    const changed = new Set(status.changed);
    for (const f of functions) {
      if (status.pending.length === 0 && !changed.has(f.file)) continue;
      await inTransaction(conn, f.file, f.text, (tx) => tx`
        insert into public.auction_function_files (file, sha256) values (${f.file}, ${f.sha256})
        on conflict (file) do update set sha256 = excluded.sha256, applied_at = now()`);
      applied.push(f.file);
      log(`applied ${f.file}`);
    }
  } finally {
    await conn`select pg_advisory_unlock(${MIGRATION_LOCK})`.catch(() => {});
    conn.release();
  }
  return applied;
}

async function inTransaction(conn: ReservedSql, file: string, text: string, record: (c: ReservedSql) => Promise<unknown>) {
  await conn.unsafe('begin').simple();
  try {
    await conn.unsafe(text).simple();
    await record(conn);
    await conn.unsafe('commit').simple();
  } catch (err) {
    await conn.unsafe('rollback').simple();
    throw new Error(`migration ${file} failed: ${(err as Error).message}`, { cause: err });
  }
}
