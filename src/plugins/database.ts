import fp from 'fastify-plugin';
import { connect, type Db } from '../db/connect.ts';
import { migrate } from '../db/migrate.ts';
import { setUpAsOwner } from '../db/owner.ts';
import { waitForDatabase } from '../db/wait.ts';

declare module 'fastify' {
  interface FastifyInstance {
    pg: Db;
  }
}

/**
 * The shared pool (postgres.js + Kysely); migrates on start so every instance runs on the schema it knows.
 * A database that is not up yet is waited for, DB_CONNECT_TIMEOUT_SECONDS at most. With an owner URL
 * (DATABASE_OWNER_URL) the owner migrates and sets pg-boss up, and the pool connects as the service's
 * limited role (docs/admin.md, "Database roles").
 */
export default fp(async (app, opts: { url: string; ownerUrl?: string; poolMax: number; migrate: boolean }) => {
  await waitForDatabase(opts.url, { timeoutSeconds: app.config.DB_CONNECT_TIMEOUT_SECONDS, log: app.log });
  const pg = connect(opts.url, { max: opts.poolMax, applicationName: 'auction-service' });
  if (opts.migrate) {
    const log = (m: string) => app.log.info(m);
    const applied = opts.ownerUrl ? await setUpAsOwner(opts.ownerUrl, log) : await migrate(pg.sql, { log });
    app.log.info({ applied: applied.length }, 'database schema up to date');
  }
  app.decorate('pg', pg);
  app.addHook('onClose', async () => {
    await pg.close();
  });
}, { name: 'database' });
