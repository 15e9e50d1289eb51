// The migrator on a directory of its own: numbered migrations once, function files again when they change.
import t from 'tap';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseAheadError, migrate, migrationStatus } from '../../src/db/migrate.ts';
import { emptyDb } from '../helpers/db.ts';

const dir = mkdtempSync(join(tmpdir(), 'auction-migrate-test-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
mkdirSync(join(dir, 'functions'));
const write = (file: string, text: string) => writeFileSync(join(dir, file), text);

write('000001_things.sql', 'create schema m; create table m.things (id int primary key, name text);');
write('functions/a_names.sql', `
  create or replace function m.label(p m.things) returns text language sql immutable as $$ select p.name $$;`);
// b sorts after a: it may use what a defines
write('functions/b_views.sql', `
  drop view if exists m.labelled;
  create view m.labelled as select t.*, m.label(t) as label from m.things t;`);

const { sql } = await emptyDb(t);
const fnText = async () => (await sql`select pg_get_functiondef('m.label(m.things)'::regprocedure) as d`)[0].d as string;
const viewColumns = async () => (await sql`
  select string_agg(attname, ',' order by attnum) as c from pg_attribute where attrelid = 'm.labelled'::regclass and attnum > 0`)[0].c;

t.test('a new database: the migrations, then every function file in name order', async (t) => {
  t.match(await migrationStatus(sql, dir), { applied: [], pending: [{ id: 1, file: '000001_things.sql' }],
    changed: ['functions/a_names.sql', 'functions/b_views.sql'], unknown: [] });
  t.same(await migrate(sql, { dir }), ['000001_things.sql', 'functions/a_names.sql', 'functions/b_views.sql']);
  t.same(await migrate(sql, { dir }), [], 'nothing changed: nothing applied');
  t.match(await migrationStatus(sql, dir), { applied: [{ id: 1, name: 'things', appliedAt: Date }], pending: [], changed: [], unknown: [] });
});

t.test('a changed function file is applied again, alone', async (t) => {
  write('functions/a_names.sql', `
    create or replace function m.label(p m.things) returns text language sql immutable as $$ select upper(p.name) $$;`);
  t.same((await migrationStatus(sql, dir)).changed, ['functions/a_names.sql']);
  t.same(await migrate(sql, { dir }), ['functions/a_names.sql']);
  t.match(await fnText(), /upper\(p\.name\)/);
  await sql`insert into m.things values (1, 'lamp')`;
  t.same(await sql`select label from m.labelled`, [{ label: 'LAMP' }]);
});

t.test('after a migration every function file is applied again (the view takes the new column)', async (t) => {
  write('000002_colour.sql', 'alter table m.things add column colour text;');
  t.same(await migrate(sql, { dir }), ['000002_colour.sql', 'functions/a_names.sql', 'functions/b_views.sql']);
  t.equal(await viewColumns(), 'id,name,colour,label');
});

t.test('a function file that fails is rolled back and tried again next time', async (t) => {
  write('functions/b_views.sql', 'create view m.broken as select nope from m.things;');
  await t.rejects(migrate(sql, { dir }), { message: /functions\/b_views\.sql failed: column "nope" does not exist/ });
  t.same((await migrationStatus(sql, dir)).changed, ['functions/b_views.sql'], 'still to apply');
  t.equal(await viewColumns(), 'id,name,colour,label', 'the old view stands');
  write('functions/b_views.sql', `
    drop view if exists m.labelled;
    create view m.labelled as select t.id, m.label(t) as label from m.things t;`);
  t.same(await migrate(sql, { dir }), ['functions/b_views.sql']);
  t.equal(await viewColumns(), 'id,label');
});

t.test('a database ahead of the code is refused before anything is applied', async (t) => {
  await sql`insert into public.auction_migrations (id, name) values (3, 'from_the_future')`;
  write('functions/a_names.sql', 'select 1;');
  const err = await migrate(sql, { dir }).catch((e: unknown) => e);
  t.ok(err instanceof DatabaseAheadError, 'DatabaseAheadError');
  t.match(err, { message: /database has migration 3 but this code only knows up to 2/ });
  t.match(await fnText(), /upper\(p\.name\)/, 'the function file was not applied');
  t.match((await migrationStatus(sql, dir)).unknown, [{ id: 3, name: 'from_the_future' }]);
});
