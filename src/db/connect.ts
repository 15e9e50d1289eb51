import postgres, { type Sql } from 'postgres';
import { Kysely } from 'kysely';
import { PostgresJSDialect } from 'kysely-postgres-js';
import type { Database } from './schema.ts';

export type Db = { sql: Sql; db: Kysely<Database>; close: () => Promise<void> };

type Options = { max?: number; applicationName?: string; onnotice?: (n: unknown) => void };

/** Opens the shared pool (postgres.js) and a Kysely on top of it. LISTEN gets its own client elsewhere. */
export function connect(url: string, opts: Options = {}): Db {
  const sql = postgres(url, {
    max: opts.max ?? 10,
    onnotice: opts.onnotice ?? (() => {}),
    connection: { application_name: opts.applicationName ?? 'auction-service' },
    // bigint seq arrives as a JS number: a per-auction count never nears 2^53
    // bigint (seq) arrives as a JS number: a per-auction count never nears 2^53. numeric stays a string.
    types: { bigint: { to: 20, from: [20], serialize: (x: number) => String(x), parse: (x: string) => Number(x) } },
  });
  const db = new Kysely<Database>({ dialect: new PostgresJSDialect({ postgres: sql }) });
  return { sql, db, close: () => db.destroy() };
}
