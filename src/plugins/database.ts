import fp from 'fastify-plugin';
import { connect, type Db } from '../db/connect.ts';
import { migrate } from '../db/migrate.ts';
import { waitForDatabase } from '../db/wait.ts';

declare module 'fastify' {
  interface FastifyInstance {
    pg: Db;
  }
}

/**
 * The shared pool (postgres.js + Kysely); migrates on start so every instance runs on the schema it knows.
 * A database that is not up yet is waited for, DB_CONNECT_TIMEOUT_SECONDS at most.
 */
export default fp(async (app, opts: { url: string; poolMax: number; migrate: boolean }) => {
  await waitForDatabase(opts.url, { timeoutSeconds: app.config.DB_CONNECT_TIMEOUT_SECONDS, log: app.log });
  const pg = connect(opts.url, { max: opts.poolMax, applicationName: 'auction-service' });
  if (opts.migrate) {
    const applied = await migrate(pg.sql, { log: (m) => app.log.info(m) });
    app.log.info({ applied: applied.length }, 'database schema up to date');
  }
  app.decorate('pg', pg);
  app.addHook('onClose', async () => {
    await pg.close();
  });
}, { name: 'database' });
