// `make psql`: opens psql on the database `make run` uses.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

const url = process.env.DATABASE_URL ?? process.env.DB_URL ??
  (existsSync('.data/database-url') ? readFileSync('.data/database-url', 'utf8').trim() : undefined);
if (!url) {
  console.error('no database: set DATABASE_URL, or start the service once with `make run`');
  process.exit(2);
}
const r = spawnSync('psql', [url], { stdio: 'inherit' });
if (r.error) {
  console.error(`could not start psql (${r.error.message}); install it with: apt-get install -y postgresql-client`);
  process.exit(2);
}
process.exit(r.status ?? 1);
