import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** DATABASE_URL or DB_URL, else the database `make run` started last (written to .data/database-url). */
export function toolDatabaseUrl(): string | undefined {
  const file = resolve(process.env.DATA_DIR ?? '.data', 'database-url');
  return process.env.DATABASE_URL || process.env.DB_URL || (existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined);
}
