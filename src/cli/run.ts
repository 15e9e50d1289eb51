// `make run`: the service on DATABASE_URL/DB_URL, or on an embedded PostgreSQL kept under .data/.
import { mkdir, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { startEmbedded } from '../db/embedded.ts';
import { ensureDevSecret } from './dev-secret.ts';

const dataDir = resolve(process.env.DATA_DIR ?? '.data');
await mkdir(dataDir, { recursive: true, mode: 0o755 });

let afterClose: (() => Promise<void>) | undefined;
if (!process.env.DATABASE_URL && !process.env.DB_URL) {
  const cluster = await startEmbedded({
    dir: resolve(dataDir, 'postgres'),
    persistent: true,
    port: process.env.EMBEDDED_PG_PORT ? Number(process.env.EMBEDDED_PG_PORT) : undefined,
  });
  process.env.DATABASE_URL = cluster.url('postgres');
  await writeFile(resolve(dataDir, 'database-url'), process.env.DATABASE_URL + '\n', { mode: 0o600 });
  afterClose = () => cluster.stop().catch(() => {});
  console.log(`embedded postgres under ${dataDir}/postgres on port ${cluster.port}`);
  console.log(`psql: make psql   (or: psql "${process.env.DATABASE_URL}")`);
}

if (!process.env.JWT_SECRET && !process.env.JWT_SECRET_FILE && !process.env.JWT_JWKS_URL) {
  process.env.JWT_SECRET_FILE = await ensureDevSecret(dataDir);
}

const { main } = await import('../server.ts');
const app = await main({ afterClose });
const addr = app.server.address();
const where = typeof addr === 'object' && addr ? `http://${addr.address}:${addr.port}` : String(addr);
console.log(`listening on ${where}  (WebSocket: ${where.replace('http', 'ws')}/ws, token: npm run token -- <user>)`);
