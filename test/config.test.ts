import t from 'tap';
import { ConfigError, loadConfig } from '../src/config.ts';

t.test('defaults follow the original design', async (t) => {
  const c = loadConfig({ DB_URL: 'postgres://u:p@localhost:5432/db' });
  t.match(c, { databaseUrl: 'postgres://u:p@localhost:5432/db', PORT: 8080, LOG_LEVEL: 'info', LOG_FORMAT: 'json', AUTH_ALLOW_USER_ID_PARAM: false });
  t.equal(loadConfig({ DATABASE_URL: 'postgres://a/b', DB_URL: 'postgres://c/d' }).databaseUrl, 'postgres://a/b', 'DATABASE_URL wins');
});

t.test('every bad variable is listed in one error', async (t) => {
  const err = t.throws(() => loadConfig({
    DATABASE_URL: 'not a url', PORT: '99999', LOG_LEVEL: 'loud', WS_MAX_FRAME_BYTES: '-3', JWT_SECRET: 'short', AUTH_ALLOW_USER_ID_PARAM: 'maybe',
  })) as ConfigError;
  t.ok(err instanceof ConfigError);
  for (const name of ['DATABASE_URL', 'PORT', 'LOG_LEVEL', 'WS_MAX_FRAME_BYTES', 'JWT_SECRET', 'AUTH_ALLOW_USER_ID_PARAM']) {
    t.match(err.message, name, `names ${name}`);
  }
});

t.test('a missing database URL is an error', async (t) => {
  t.throws(() => loadConfig({}), /DATABASE_URL: required/);
});

t.test('the server exits 2 with the list on bad config', async (t) => {
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync(process.execPath, ['src/server.ts'], { env: { PATH: process.env.PATH, PORT: 'eighty' }, encoding: 'utf8' });
  t.equal(r.status, 2);
  t.match(r.stderr, /invalid configuration/);
  t.match(r.stderr, /PORT/);
  t.match(r.stderr, /DATABASE_URL: required/, 'and the missing URL, in the same list');
});
