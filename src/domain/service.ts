// What the socket handlers and the REST routes may do, as one typed set of operations on the database.
import type { Sql } from 'postgres';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';
import {
  bidsSince, createAuction, createItem, getAuction, listAuctions,
  type AuctionPage, type AuctionRow, type BidRow, type CreateAuctionInput, type ListInput, type Scheduler,
} from './auctions.ts';
import { BidBatcher, buyNow, type BidInput, type BidOutcome, type BuyNowInput } from './bids.ts';

export type AuctionService = {
  /** through the group-commit batcher; resolves after its transaction committed */
  placeBid(b: BidInput): Promise<BidOutcome>;
  buyNow(b: BuyNowInput): Promise<BidOutcome>;
  /** the auction and its start/end jobs, in one transaction */
  createAuction(input: CreateAuctionInput): Promise<AuctionRow>;
  createItem(ownerId: string, name: string, description?: string): Promise<{ id: string; name: string; description: string; owner_id: string }>;
  getAuction(id: string): Promise<AuctionRow | undefined>;
  listAuctions(q: ListInput): Promise<AuctionPage>;
  bidsSince(auctionId: string, afterSeq: number, limit: number): Promise<BidRow[]>;
};

export type ServiceOptions = { sql: Sql; db: Kysely<Database>; schedule: Scheduler; batch: { maxBatch: number; concurrency: number; timeoutMs: number } };

export function auctionService(o: ServiceOptions): AuctionService {
  const batcher = new BidBatcher(o.sql, o.batch);
  return {
    placeBid: (b) => batcher.submit(b),
    buyNow: (b) => buyNow(o.sql, b),
    createAuction: (input) => createAuction(o.sql, input, o.schedule),
    createItem: (ownerId, name, description) => createItem(o.sql, ownerId, name, description),
    getAuction: (id) => getAuction(o.sql, id),
    listAuctions: (q) => listAuctions(o.db, q),
    bidsSince: (id, after, limit) => bidsSince(o.sql, id, after, limit),
  };
}
