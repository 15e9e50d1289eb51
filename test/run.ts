// Runs the tap suite against a disposable PostgreSQL: embedded (temp dir, free port) or TEST_DATABASE_URL.
// Migrates one template database; each test file clones it (test/helpers/db.ts). The template's schema dump
// goes to a file for test/sql/schema-dump.test.ts (a clone cannot be dumped in its place: per-database
// settings are not copied, and the template itself must stay unconnected while tests clone it).
import { spawn } from 'node:child_process';
import { mkdtemp, rm, chmod, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { EmbeddedError, startEmbedded, type EmbeddedCluster } from '../src/db/embedded.ts';
import { migrate } from '../src/db/migrate.ts';
import { ensureRole, SERVICE_ROLE } from '../src/db/roles.ts';
import { dumpSchema } from '../src/db/dump.ts';

const template = `auction_template_${process.pid}`;
let cluster: EmbeddedCluster | undefined;
let tmp: string | undefined;
let dumpDir: string | undefined;
let adminUrl = process.env.TEST_DATABASE_URL;

async function cleanup() {
  if (adminUrl) {
    const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
    await admin.unsafe(`drop database if exists ${template} with (force)`).catch(() => {});
    await admin.end();
  }
  if (cluster) await cluster.stop().catch((e) => console.error('stopping postgres:', e));
  if (tmp) await rm(tmp, { recursive: true, force: true });
  if (dumpDir) await rm(dumpDir, { recursive: true, force: true });
}

let code = 1;
let tap: ReturnType<typeof spawn> | undefined;
// passed on to tap, whose end runs the clean-up; before tap runs, exiting stops the cluster (src/db/embedded.ts)
for (const s of ['SIGINT', 'SIGTERM'] as const) process.on(s, () => (tap ? tap.kill(s) : process.exit(130)));
try {
  if (!adminUrl) {
    tmp = await mkdtemp(join(tmpdir(), 'auction-test-'));
    await chmod(tmp, 0o755); // the cluster may run as the 'postgres' system user
    const started = Date.now();
    cluster = await startEmbedded({ dir: tmp, persistent: false });
    adminUrl = cluster.url('postgres');
    console.log(`# disposable postgres on port ${cluster.port} (${Date.now() - started} ms)`);
  } else {
    console.log('# using TEST_DATABASE_URL');
  }
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await admin`select 1`;
  } catch (err) {
    console.error(`cannot reach ${adminUrl.replace(/:[^:@/]*@/, ':***@')}: ${(err as Error).message}\n` +
      'unset TEST_DATABASE_URL to use a disposable embedded postgres, or fix the URL');
    throw err;
  }
  await admin.unsafe(`drop database if exists ${template} with (force)`);
  await admin.unsafe(`create database ${template}`);
  await ensureRole(admin, SERVICE_ROLE); // the migrations grant to it, and the dump shows those grants
  await admin.end();
  const tsql = postgres(adminUrl.replace(/\/[^/?]*(\?|$)/, `/${template}$1`), { max: 1, onnotice: () => {} });
  await migrate(tsql);
  dumpDir = await mkdtemp(join(tmpdir(), 'auction-test-schema-'));
  const dumpFile = join(dumpDir, 'schema.sql');
  await writeFile(dumpFile, await dumpSchema(tsql));
  await tsql.end();

  // tap would otherwise also run this file (and helpers) as tests
  const args = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['test/**/*.test.ts'];
  code = await new Promise<number>((resolve) => {
    tap = spawn('tap', args, {
      stdio: 'inherit',
      env: { ...process.env, TAP_TYPE_STRIP_ONLY: '1', TEST_ADMIN_URL: adminUrl, TEST_TEMPLATE_DB: template,
        TEST_SCHEMA_DUMP: dumpFile },
    });
    tap.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
  });
} catch (err) {
  console.error(err instanceof EmbeddedError ? `embedded postgres: ${err.message}` : err);
  code = 1;
} finally {
  await cleanup();
}
process.exit(code);
