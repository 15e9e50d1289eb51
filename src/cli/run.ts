// `make run`: the service on DATABASE_URL/DB_URL, or on an embedded PostgreSQL kept under .data/.
import { mkdir, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import postgres from 'postgres';
import { ConfigError, loadConfig, loadEnvFile } from '../config.ts';
import { ensureRole, SERVICE_ROLE } from '../db/roles.ts';
import { ensureDevSecret } from './dev-secret.ts';

// until main() takes the signals over: exiting stops a cluster this process started (src/db/embedded.ts)
const early = () => process.exit(130);
process.once('SIGINT', early);
process.once('SIGTERM', early);

try {
  loadEnvFile();
} catch (err) {
  console.error((err as Error).message);
  process.exit(2);
}
const dataDir = resolve(process.env.DATA_DIR ?? '.data');
const embedded = !process.env.DATABASE_URL && !process.env.DB_URL;
try {
  await mkdir(dataDir, { recursive: true, mode: 0o755 });
  if (!process.env.JWT_SECRET && !process.env.JWT_SECRET_FILE && !process.env.JWT_JWKS_URL) {
    process.env.JWT_SECRET_FILE = await ensureDevSecret(dataDir);
  }
  // the whole configuration is checked before a cluster starts; its URL is known only afterwards
  loadConfig(embedded ? { ...process.env, DATABASE_URL: 'postgres://embedded/postgres' } : process.env);
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : `make run: ${(err as Error).message}`);
  process.exit(err instanceof ConfigError ? 2 : 1);
}

let afterClose: (() => Promise<void>) | undefined;
if (embedded) {
  const { startEmbedded } = await import('../db/embedded.ts');
  let cluster;
  try {
    cluster = await startEmbedded({
      dir: resolve(dataDir, 'postgres'),
      persistent: true,
      // Ctrl-C reaches the service alone: it drains and closes its connections, then stops the cluster
      detached: true,
      port: process.env.EMBEDDED_PG_PORT ? Number(process.env.EMBEDDED_PG_PORT) : undefined,
    });
  } catch (err) {
    console.error(`embedded postgres: ${(err as Error).message}`);
    process.exit(1);
  }
  // The cluster's superuser owns the schemas and migrates; the service connects as auction_service, which
  // cannot write the tables (docs/admin.md, "Database roles"). It shares the cluster's password, kept alike.
  const ownerUrl = cluster.url('postgres');
  const admin = postgres(ownerUrl, { max: 1, onnotice: () => {} });
  try {
    await ensureRole(admin, SERVICE_ROLE, new URL(ownerUrl).password);
  } finally {
    await admin.end();
  }
  const serviceUrl = new URL(ownerUrl);
  serviceUrl.username = SERVICE_ROLE;
  process.env.DATABASE_OWNER_URL = ownerUrl;
  process.env.DATABASE_URL = serviceUrl.toString();
  // psql (make psql) is the operator's: the owner
  await writeFile(resolve(dataDir, 'database-url'), ownerUrl + '\n', { mode: 0o600 });
  afterClose = () => cluster.stop().catch((err) => console.error(`stopping the embedded postgres: ${(err as Error).message}`));
  const where = cluster.dataDir === resolve(dataDir, 'postgres', 'data') ? `${dataDir}/postgres` : `${cluster.dataDir} (linked from ${dataDir}/postgres/data)`;
  console.log(`embedded postgres under ${where} on port ${cluster.port}`);
  console.log(`psql: make psql   (or: psql "${ownerUrl}")`);
}

const { main } = await import('../server.ts');
process.off('SIGINT', early);
process.off('SIGTERM', early);
const app = await main({ afterClose });
const addr = app.server.address();
const where = typeof addr === 'object' && addr ? `http://${addr.address}:${addr.port}` : String(addr);
console.log(`listening on ${where}  (WebSocket: ${where.replace('http', 'ws')}/ws, token: npm run token -- <user>)`);
