import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, loadDatabaseConfig } from '../src/config.ts';

const KEY = 'k'.repeat(32);
const DB = 'postgres://u:p@localhost:5432/db';

const refused = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error('loadConfig accepted ' + JSON.stringify(env));
};

t.test('defaults follow the original design', async (t) => {
  const c = loadConfig({ DB_URL: DB, JWT_SECRET: KEY });
  t.match(c, { databaseUrl: DB, PORT: 8080, LOG_LEVEL: 'info', LOG_FORMAT: 'json', AUTH_ALLOW_USER_ID_PARAM: false, DB_CONNECT_TIMEOUT_SECONDS: 30,
    WS_DEFAULT_DIALECT: 'auction' });
  t.same(c.jwtSecret, new TextEncoder().encode(KEY));
  t.equal(loadConfig({ DATABASE_URL: 'postgres://a/b', DB_URL: 'postgres://c/d', JWT_SECRET: KEY }).databaseUrl, 'postgres://a/b', 'DATABASE_URL wins');
});

t.test('every bad variable is listed, on one line', async (t) => {
  const message = refused({
    DATABASE_URL: 'not a url', PORT: '99999', LOG_LEVEL: 'loud', WS_MAX_FRAME_BYTES: '-3', JWT_SECRET: 'short',
    AUTH_ALLOW_USER_ID_PARAM: 'maybe', SWEEP_CRON: 'bogus', DB_CONNECT_TIMEOUT_SECONDS: 'soon', WS_DEFAULT_DIALECT: 'klingon' });
  t.notMatch(message, /\n/, 'one line');
  t.match(message, /^invalid configuration: /);
  for (const name of ['DATABASE_URL', 'PORT', 'LOG_LEVEL', 'WS_MAX_FRAME_BYTES', 'JWT_SECRET', 'AUTH_ALLOW_USER_ID_PARAM', 'SWEEP_CRON', 'DB_CONNECT_TIMEOUT_SECONDS', 'WS_DEFAULT_DIALECT']) {
    t.match(message, `${name}: `, `names ${name}`);
  }
});

t.test('a missing database URL is an error that says where one comes from', async (t) => {
  t.match(refused({ JWT_SECRET: KEY }), /DATABASE_URL: required \(or DB_URL\).*make run/);
});

t.test('a key for tokens is required: secret, secret file or JWKS URL', async (t) => {
  t.match(refused({ DATABASE_URL: DB }), /JWT_SECRET, JWT_SECRET_FILE or JWT_JWKS_URL: required/);
  t.equal(loadConfig({ DATABASE_URL: DB, JWT_JWKS_URL: 'https://issuer.example/jwks.json' }).jwtSecret, undefined, 'a JWKS URL alone will do');
});

t.test('JWT_SECRET_FILE is read at load: missing, short and good files', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'auction-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.match(refused({ DATABASE_URL: DB, JWT_SECRET_FILE: join(dir, 'nonexistent') }),
    new RegExp(`JWT_SECRET_FILE: cannot read ${join(dir, 'nonexistent')} \\(ENOENT\\); point it at a readable file`));
  writeFileSync(join(dir, 'short'), 'too short\n');
  t.match(refused({ DATABASE_URL: DB, JWT_SECRET_FILE: join(dir, 'short') }), /JWT_SECRET_FILE: the key has 9 characters and needs at least 32/);
  writeFileSync(join(dir, 'good'), `${KEY}\n`);
  t.same(loadConfig({ DATABASE_URL: DB, JWT_SECRET_FILE: join(dir, 'good') }).jwtSecret, new TextEncoder().encode(KEY), 'trimmed key');
});

t.test('SWEEP_CRON is parsed as pg-boss parses schedules', async (t) => {
  t.match(refused({ DATABASE_URL: DB, JWT_SECRET: KEY, SWEEP_CRON: 'bogus' }), /SWEEP_CRON: "bogus" is not a schedule pg-boss accepts \(.+\); e\.g\. "\* \* \* \* \*"/);
  t.match(refused({ DATABASE_URL: DB, JWT_SECRET: KEY, SWEEP_CRON: '61 * * * *' }), /SWEEP_CRON: .*61/);
  for (const ok of ['*/5 * * * *', '0 3 * * 1-5', 'FREQ=HOURLY']) {
    t.equal(loadConfig({ DATABASE_URL: DB, JWT_SECRET: KEY, SWEEP_CRON: ok }).SWEEP_CRON, ok, ok);
  }
});

t.test('the database tools need only the URL', async (t) => {
  t.match(loadDatabaseConfig({ DB_URL: DB, PORT: 'not checked here' }), { databaseUrl: DB, DB_CONNECT_TIMEOUT_SECONDS: 30 });
  t.throws(() => loadDatabaseConfig({}), /^invalid configuration: DATABASE_URL: required/);
});

t.test('TRUST_PROXY: false by default; true, a hop count, or addresses and CIDRs', async (t) => {
  const proxy = (v?: string) => loadConfig({ DATABASE_URL: DB, JWT_SECRET: KEY, ...(v === undefined ? {} : { TRUST_PROXY: v }) }).TRUST_PROXY;
  t.equal(proxy(), false);
  t.equal(proxy('true'), true);
  t.equal(proxy('2'), 2);
  t.same(proxy('10.0.0.1, 192.168.0.0/16,::1'), ['10.0.0.1', '192.168.0.0/16', '::1']);
  t.match(refused({ DATABASE_URL: DB, JWT_SECRET: KEY, TRUST_PROXY: 'nginx' }), /TRUST_PROXY: true, false, a hop count/);
});
