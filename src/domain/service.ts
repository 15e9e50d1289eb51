// What the socket handlers and the REST routes may do, as one typed set of operations on the database.
import type { Sql } from 'postgres';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';
import {
  bidsSince, createAuction, createItem, getAuction, listAuctions, listAuctionsByOffset,
  type AuctionPage, type BidRow, type CreateAuctionInput, type ListInput, type NamedAuction, type Scheduler,
} from './auctions.ts';
import { BidBatcher, OutcomeUnknownError, buyNow, type BidInput, type BidOutcome, type BuyNowInput } from './bids.ts';
import { withDeadline } from '../util/deadline.ts';
import { UserNames } from './users.ts';

export type AuctionService = {
  /** through the group-commit batcher; resolves after its transaction committed */
  placeBid(b: BidInput): Promise<BidOutcome>;
  buyNow(b: BuyNowInput): Promise<BidOutcome>;
  /** the auction and its start/end jobs, in one transaction */
  createAuction(input: CreateAuctionInput): Promise<NamedAuction>;
  createItem(ownerId: string, name: string, description?: string): Promise<{ id: string; name: string; description: string; owner_id: string }>;
  getAuction(id: string): Promise<NamedAuction | undefined>;
  listAuctions(q: ListInput): Promise<AuctionPage>;
  /** newest first, by offset: the original dialect's list_auctions */
  listAuctionsByOffset(q: { limit: number; offset: number }): Promise<NamedAuction[]>;
  bidsSince(auctionId: string, afterSeq: number, limit: number): Promise<BidRow[]>;
  /** a user's display name, cached a while (live bid events name the bidder) */
  userName(id: string): Promise<string>;
};

export type ServiceOptions = { sql: Sql; db: Kysely<Database>; schedule: Scheduler; batch: { maxBatch: number; concurrency: number; timeoutMs: number } };

export function auctionService(o: ServiceOptions): AuctionService {
  const batcher = new BidBatcher(o.sql, o.batch);
  const names = new UserNames(o.sql);
  return {
    placeBid: (b) => batcher.submit(b),
    // bounded like a bid batch: a query on a connection the server cut may never settle (util/deadline.ts)
    buyNow: (b) => withDeadline(buyNow(o.sql, b), o.batch.timeoutMs, () => {
      throw new OutcomeUnknownError('the database did not answer in time');
    }),
    // read back with its names once committed
    createAuction: async (input) => (await getAuction(o, (await createAuction(o.sql, input, o.schedule)).id))!,
    createItem: (ownerId, name, description) => createItem(o.sql, ownerId, name, description),
    getAuction: (id) => getAuction(o, id),
    listAuctions: (q) => listAuctions(o, q),
    listAuctionsByOffset: (q) => listAuctionsByOffset(o, q),
    bidsSince: (id, after, limit) => bidsSince(o.sql, id, after, limit),
    userName: (id) => names.name(id),
  };
}
