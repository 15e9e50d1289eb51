import fp from 'fastify-plugin';
import { auctionService, type AuctionService } from '../domain/service.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Everything the socket and REST handlers do to auctions and bids. */
    auctions: AuctionService;
  }
}

export default fp(async (app) => {
  const c = app.config;
  app.decorate('auctions', auctionService({
    sql: app.pg.sql, db: app.pg.db, schedule: app.scheduleAuction,
    batch: { maxBatch: c.BID_BATCH_MAX, concurrency: c.BID_BATCH_CONCURRENCY, timeoutMs: c.REQUEST_TIMEOUT_MS },
  }));
}, { name: 'auctions', dependencies: ['database', 'lifecycle'] });
