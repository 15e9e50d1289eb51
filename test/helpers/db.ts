import postgres, { type Sql } from 'postgres';
import type { Test } from 'tap';
import { connect, type Db } from '../../src/db/connect.ts';

const adminUrl = process.env.TEST_ADMIN_URL;
const template = process.env.TEST_TEMPLATE_DB;
let counter = 0;

export function dbUrl(name: string) {
  if (!adminUrl) throw new Error('TEST_ADMIN_URL is not set: run the tests with `make test`');
  return adminUrl.replace(/\/[^/?]*(\?|$)/, `/${name}$1`);
}

export type TestDb = Db & { url: string; name: string; admin: Sql };

/** A database of its own for this test file, cloned from the migrated template and dropped afterwards. */
export async function freshDb(t: Test, opts: { max?: number } = {}): Promise<TestDb> {
  if (!adminUrl || !template) throw new Error('TEST_ADMIN_URL/TEST_TEMPLATE_DB not set: run the tests with `make test`');
  return newDb(t, `template ${template}`, opts);
}

/** An empty database (no migration applied), dropped afterwards: for tests of the migrator itself. */
export async function emptyDb(t: Test, opts: { max?: number } = {}): Promise<TestDb> {
  return newDb(t, '', opts);
}

async function newDb(t: Test, from: string, opts: { max?: number }): Promise<TestDb> {
  if (!adminUrl) throw new Error('TEST_ADMIN_URL is not set: run the tests with `make test`');
  const name = `t_${process.pid}_${++counter}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name} ${from}`);
  const url = dbUrl(name);
  const conn = connect(url, { max: opts.max ?? 10, applicationName: 'auction-test' });
  t.teardown(async () => {
    await conn.close();
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.end();
  });
  return { ...conn, url, name, admin };
}
