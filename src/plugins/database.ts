import fp from 'fastify-plugin';
import { connect, type Db } from '../db/connect.ts';
import { migrate } from '../db/migrate.ts';

declare module 'fastify' {
  interface FastifyInstance {
    pg: Db;
  }
}

/** The shared pool (postgres.js + Kysely); migrates on start so every instance runs on the schema it knows. */
export default fp(async (app, opts: { url: string; poolMax: number; migrate: boolean }) => {
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
