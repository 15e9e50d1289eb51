// sql/schema.sql is what a fresh migration leaves: test/run.ts dumps the migrated template, this compares.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

const dumpFile = process.env.TEST_SCHEMA_DUMP;
const committedFile = new URL('../../sql/schema.sql', import.meta.url);

t.test('sql/schema.sql matches the migrated template', async (t) => {
  if (!dumpFile) throw new Error('TEST_SCHEMA_DUMP is not set: run the tests with `make test`');
  const committed = readFileSync(committedFile, 'utf8');
  const migrated = readFileSync(dumpFile, 'utf8');
  if (committed === migrated) return t.pass('up to date');
  const diff = spawnSync('diff', ['-u', '--label', 'sql/schema.sql (committed)', '--label', 'migrated template',
    committedFile.pathname, dumpFile], { encoding: 'utf8' });
  t.fail('sql/schema.sql is stale: run `make schema` and commit it', { diff: diff.stdout || diff.error?.message });
});

// One home per function: each function and view of the schema is defined in exactly one sql/functions/ file,
// and each definition there is live. A function left behind by an old migration must be dropped by a new one.
t.test('every function and view has one home in sql/functions/', async (t) => {
  if (!dumpFile) throw new Error('TEST_SCHEMA_DUMP is not set: run the tests with `make test`');
  const dump = readFileSync(dumpFile, 'utf8');
  const live = new Set([...dump.matchAll(/^(?:CREATE OR REPLACE FUNCTION|create view) auction\.(\w+)/gm)].map((m) => m[1]));
  const homes = new Map<string, string[]>();
  const dir = new URL('../../sql/functions/', import.meta.url);
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.sql'))) {
    const text = readFileSync(new URL(file, dir), 'utf8');
    for (const m of text.matchAll(/^create (?:or replace )?(?:function|view) auction\.(\w+)/gim)) {
      homes.set(m[1], [...new Set([...(homes.get(m[1]) ?? []), file])]);
    }
  }
  t.same([...live].filter((n) => !homes.has(n)).sort(), [], 'no function or view without a file (drop it in a migration, or give it one)');
  t.same([...homes.keys()].filter((n) => !live.has(n)).sort(), [], 'every definition in the files is live');
  t.same([...homes].filter(([, files]) => files.length > 1), [], 'no name defined in two files');
});
