// `npm run migrate`: applies sql/ to DATABASE_URL and lists what is applied and pending, against an empty database.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import postgres from 'postgres';
import { dbUrl } from '../helpers/db.ts';
import { listFunctionFiles, listMigrations } from '../../src/db/migrate.ts';

const cwd = mkdtempSync(join(tmpdir(), 'auction-migrate-')); // no .env, no .data here
t.teardown(() => rmSync(cwd, { recursive: true, force: true }));
const name = `m_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
const admin = postgres(process.env.TEST_ADMIN_URL!, { max: 1, onnotice: () => {} });
await admin.unsafe(`create database ${name}`);
t.teardown(async () => {
  await admin.unsafe(`drop database if exists ${name} with (force)`);
  await admin.end();
});
const files = (await listMigrations()).map((m) => m.file);
const functionFiles = (await listFunctionFiles()).map((f) => f.file);

function migrate(args: string[], env: Record<string, string> = { DATABASE_URL: dbUrl(name) }) {
  return new Promise<{ code: number | null; out: string[]; err: string }>((done) => {
    const child = spawn(process.execPath, [resolve('src/cli/migrate.ts'), ...args], { cwd, env: { PATH: process.env.PATH!, ...env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('close', (code) => done({ code, out: out.trim().split('\n'), err }));
  });
}

t.test('--status on an empty database: every migration pending', async (t) => {
  const r = await migrate(['--status']);
  t.equal(r.code, 0);
  t.same(r.out.filter((l) => !l.startsWith('#')), [...files.map((f) => `pending  ${f}`), ...functionFiles.map((f) => `changed  ${f}`)]);
  t.equal(r.out.at(-1), `# 0 applied, ${files.length} pending, ${functionFiles.length} function files to apply`);
});

t.test('migrate applies each file once and says so', async (t) => {
  const first = await migrate([]);
  t.equal(first.code, 0, first.err);
  const all = [...files, ...functionFiles];
  t.same(first.out, [...all.map((f) => `applied ${f}`), `schema up to date: applied ${all.length}`]);
  const again = await migrate([]);
  t.same(again.out, ['schema up to date: nothing to apply']);
  const status = await migrate(['--status']);
  t.match(status.out.filter((l) => !l.startsWith('#')), files.map((f) => new RegExp(`^applied  ${f}  \\d{4}-\\d\\d-\\d\\dT`)));
  t.equal(status.out.at(-1), `# ${files.length} applied, 0 pending, 0 function files to apply`);
});

t.test('without a database URL or a make run database: one line, exit 2', async (t) => {
  const r = await migrate([], {});
  t.equal(r.code, 2);
  t.match(r.err, /^invalid configuration: DATABASE_URL: required[^\n]*\n$/);
  const bad = await migrate(['--force']);
  t.equal(bad.code, 2);
  t.equal(bad.err, 'usage: npm run migrate [-- --status]\n');
});
