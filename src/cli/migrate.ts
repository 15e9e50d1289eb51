// `npm run migrate [-- --status]`: applies sql/NNNNNN_*.sql and the changed sql/functions/*.sql to DATABASE_URL
// (the service also does so at start), or lists which are applied, which are pending and which function files changed.
import postgres from 'postgres';
import { ConfigError, loadDatabaseConfig, loadEnvFile } from '../config.ts';
import { DatabaseUnreachableError, redactUrl, waitForDatabase } from '../db/wait.ts';
import { migrate, migrationStatus } from '../db/migrate.ts';
import { toolDatabaseUrl } from './database-url.ts';

const args = process.argv.slice(2);
if (args.some((a) => a !== '--status')) {
  console.error('usage: npm run migrate [-- --status]');
  process.exit(2);
}
let config;
try {
  loadEnvFile();
  config = loadDatabaseConfig({ ...process.env, DATABASE_URL: toolDatabaseUrl() });
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(err.message);
  process.exit(2);
}

const sql = postgres(config.databaseUrl, { max: 1, onnotice: () => {} });
let code = 0;
try {
  await waitForDatabase(config.databaseUrl, {
    timeoutSeconds: config.DB_CONNECT_TIMEOUT_SECONDS,
    log: { warn: (f, msg) => console.error(`${msg}: try ${f.attempt}, ${f.err}`) },
  });
  if (args.includes('--status')) {
    const { applied, pending, unknown, changed } = await migrationStatus(sql);
    console.log(`# ${redactUrl(config.databaseUrl)}`);
    for (const m of applied) console.log(`applied  ${m.file}  ${m.appliedAt.toISOString()}`);
    for (const m of pending) console.log(`pending  ${m.file}`);
    for (const m of unknown) console.log(`unknown  ${m.id} ${m.name}  ${m.appliedAt.toISOString()}  (newer code applied it)`);
    for (const f of changed) console.log(`changed  ${f}`);
    console.log(`# ${applied.length} applied, ${pending.length} pending, ${changed.length} function files to apply`);
  } else {
    const applied = await migrate(sql, { log: (m) => console.log(m) });
    console.log(applied.length > 0 ? `schema up to date: applied ${applied.length}` : 'schema up to date: nothing to apply');
  }
} catch (err) {
  console.error(err instanceof DatabaseUnreachableError ? err.message : `migrate: ${(err as Error).message.split('\n')[0]}`);
  code = 1;
} finally {
  await sql.end({ timeout: 5 });
}
process.exit(code);
