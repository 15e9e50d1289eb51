import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PgBoss } from 'pg-boss';
import { BOSS_SCHEMA } from '../lifecycle/sweep.ts';
import { connect } from './connect.ts';
import { migrate, SQL_DIR } from './migrate.ts';

/** The grants to the service role; a migration, and harmless to run again (docs/admin.md). */
export const GRANTS_FILE = '000012_least_privilege.sql';

/**
 * What only the owner of the schemas does, over a short-lived connection of its own: installs or upgrades
 * pg-boss's schema, applies the migrations, then renews the grants to the service role (so a role created
 * after the migration, or a pg-boss upgrade, gets them too). The service then connects as its own role.
 */
export async function setUpAsOwner(url: string, log: (msg: string) => void = () => {}) {
  // pg-boss creates or migrates its schema in start(); nothing else runs with supervise/schedule off
  const boss = new PgBoss({ connectionString: url, schema: BOSS_SCHEMA, max: 1, supervise: false, schedule: false, application_name: 'auction-migrate' });
  boss.on('error', (err) => log(`pg-boss set-up: ${(err as Error).message}`));
  await boss.start();
  await boss.stop({ graceful: false, close: true });
  const pg = connect(url, { max: 1, applicationName: 'auction-migrate' });
  try {
    const applied = await migrate(pg.sql, { log });
    await pg.sql.unsafe(await readFile(join(SQL_DIR, GRANTS_FILE), 'utf8')).simple();
    return applied;
  } finally {
    await pg.close();
  }
}
