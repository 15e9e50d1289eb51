// `make psql`: opens psql on the database `make run` uses.
import { spawnSync } from 'node:child_process';
import { loadEnvFile } from '../config.ts';
import { toolDatabaseUrl } from './database-url.ts';

try {
  loadEnvFile();
} catch (err) {
  console.error((err as Error).message);
  process.exit(2);
}
const url = toolDatabaseUrl();
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
