// sql/schema.sql is what a fresh migration leaves: test/run.ts dumps the migrated template, this compares.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

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
