// psql on a migrated database finds the auction schema unqualified (sql/000010_psql_search_path.sql). Cloned
// test databases do not copy per-database settings, so this migrates an empty database with the real migrator.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { migrate } from '../../src/db/migrate.ts';
import { emptyDb } from '../helpers/db.ts';

const db = await emptyDb(t, { max: 1 });

t.test("the original design's seed SQL runs unqualified in a new psql session", async (t) => {
  await migrate(db.sql);
  const seed = `
    insert into users (id, name) values ('00000000-0000-4000-8000-00000000a11c', 'Alice') on conflict (id) do nothing;
    insert into users (id, name) values ('00000000-0000-4000-8000-00000000a11c', 'Alice') on conflict (id) do nothing;
    insert into items (id, name, description) values ('00000000-0000-4000-8000-0000000001a9', 'Lamp', 'brass');
    select create_auction(p_item_id => '00000000-0000-4000-8000-0000000001a9', p_creator_id => '00000000-0000-4000-8000-00000000a11c',
                          p_end_time => now() + interval '1 hour', p_starting_price => 10);
    select count(*) from auctions;
    show search_path;`;
  const r = spawnSync('psql', [db.url, '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', seed.replaceAll('\n', ' ')],
    { encoding: 'utf8' });
  t.equal(r.status, 0, `psql succeeds${r.stderr ? `: ${r.stderr}` : ''}`);
  t.match(r.stdout, /^1\n"\$user", public, auction\n$/m, 'one auction; the search_path ends with auction');
  const [{ n }] = await db.sql`select count(*)::int as n from auction.users`;
  t.equal(n, 1, 'the seed went into auction.users');
});
