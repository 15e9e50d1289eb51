// `make schema`: migrates a new database on a disposable cluster and writes its dump to sql/schema.sql.
import { mkdtemp, rm, chmod, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { startEmbedded } from '../db/embedded.ts';
import { migrate, SQL_DIR } from '../db/migrate.ts';
import { dumpSchema } from '../db/dump.ts';
import { ensureRole, SERVICE_ROLE } from '../db/roles.ts';

const dir = await mkdtemp(join(tmpdir(), 'auction-schema-'));
await chmod(dir, 0o755); // the cluster may run as the 'postgres' system user
const cluster = await startEmbedded({ dir, persistent: false });
try {
  const admin = postgres(cluster.url(), { max: 1, onnotice: () => {} });
  await admin`create database auction_schema`;
  await ensureRole(admin, SERVICE_ROLE); // so the dump shows its grants
  await admin.end();
  const sql = postgres(cluster.url('auction_schema'), { max: 1, onnotice: () => {} });
  await migrate(sql);
  const file = join(SQL_DIR, 'schema.sql');
  await writeFile(file, await dumpSchema(sql));
  await sql.end();
  console.log(`wrote ${file}`);
} finally {
  await cluster.stop();
  await rm(dir, { recursive: true, force: true });
}
