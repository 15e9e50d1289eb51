import fp from 'fastify-plugin';
import { BidBatcher } from '../domain/bid-batcher.ts';
import type { BidInput, BidOutcome } from '../domain/bids.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Places a bid through the group-commit batcher; resolves after its transaction committed. */
    placeBid: (bid: BidInput) => Promise<BidOutcome>;
  }
}

export default fp(async (app) => {
  const batcher = new BidBatcher(app.pg.sql, { maxBatch: app.config.BID_BATCH_MAX, concurrency: app.config.BID_BATCH_CONCURRENCY,
    timeoutMs: app.config.REQUEST_TIMEOUT_MS });
  app.decorate('placeBid', (bid: BidInput) => batcher.submit(bid));
}, { name: 'bidding', dependencies: ['database'] });
