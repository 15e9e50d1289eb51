import { randomUUID } from 'node:crypto';
import type { Sql } from 'postgres';
import { createAuction, type Scheduler } from '../../src/domain/auctions.ts';
import type { CreateAuctionRequest } from '../../src/protocol/requests.ts';

export async function makeUser(sql: Sql, name = 'user') {
  const id = randomUUID();
  await sql`select auction.ensure_user(${id}, ${name})`;
  return id;
}

/** An auction, by named options; every way a test creates one starts from these. */
export type AuctionOpts = {
  /** seconds from now, may be negative (-1) */
  startsIn?: number;
  /** seconds from now (3600) */
  endsIn?: number;
  startingPrice?: number | string;
  /** a fixed increment (1); null for the increment table (eBay's steps unless `incrementTable`) */
  minIncrement?: number | string | null;
  incrementTable?: { below?: number; step: number }[];
  reservePrice?: number | string;
  buyNowPrice?: number | string;
  softCloseSeconds?: number;
  /** an existing item instead of a new one */
  itemId?: string;
  item?: { name: string; description?: string };
};

export const inSeconds = (s: number) => new Date(Date.now() + s * 1000).toISOString();

/** The create_auction request for these options: socket data, REST body, client library input. */
export function auctionInput(o: AuctionOpts = {}): CreateAuctionRequest {
  const input: CreateAuctionRequest = {
    start_time: inSeconds(o.startsIn ?? -1), end_time: inSeconds(o.endsIn ?? 3600), starting_price: o.startingPrice ?? 10,
    ...(o.itemId ? { item_id: o.itemId } : { item: o.item ?? { name: 'lamp', description: 'a lamp' } }),
  };
  if (o.minIncrement !== null) input.min_increment = o.minIncrement ?? 1;
  if (o.incrementTable) input.increment_table = o.incrementTable;
  if (o.reservePrice !== undefined) input.reserve_price = o.reservePrice;
  if (o.buyNowPrice !== undefined) input.buy_now_price = o.buyNowPrice;
  if (o.softCloseSeconds !== undefined) input.soft_close_seconds = o.softCloseSeconds;
  return input;
}

/**
 * Creates an auction (and its item) straight in the database with the service's own call, unvalidated, so
 * the SQL's own checks answer; with `schedule` (an app's scheduleAuction) its start and end jobs too.
 * Without `seller`, a new user sells it.
 */
export async function makeAuction(sql: Sql, o: AuctionOpts & { seller?: string; schedule?: Scheduler } = {}) {
  const seller = o.seller ?? (await makeUser(sql, 'seller'));
  const r = auctionInput(o);
  const text = (v: number | string | undefined) => (v === undefined ? undefined : String(v));
  const a = await createAuction(sql, {
    creatorId: seller, itemId: r.item_id, item: r.item, startTime: r.start_time, endTime: r.end_time,
    startingPrice: String(r.starting_price), minIncrement: text(r.min_increment), incrementTable: r.increment_table,
    reservePrice: text(r.reserve_price), buyNowPrice: text(r.buy_now_price), softCloseSeconds: r.soft_close_seconds,
  }, o.schedule);
  return { id: a.id, seller, itemId: a.item_id, start_time: a.start_time, end_time: a.end_time };
}

export type Outcome = {
  accepted: boolean; reason: string | null; bid_id: string | null; seq: number | null; amount: string | null;
  current_price: string | null; min_amount: string | null; created_at: Date | null; duplicate: boolean;
  is_leading: boolean | null; max_amount: string | null; reserve_met: boolean | null; end_time: Date | null;
};

export async function bid(sql: Sql, auctionId: string, userId: string, amount: string | number | null, requestId: string | null = null) {
  const [r] = await sql`select * from auction.place_bid(${auctionId}, ${userId}, ${amount as string}::numeric, ${requestId})`;
  return r as Outcome;
}

/** A proxy bid: the system bids for `userId` up to `max`; `amount` optionally opens higher than the minimum. */
export async function proxyBid(sql: Sql, auctionId: string, userId: string, max: string, requestId: string | null = null, amount: string | null = null) {
  const [r] = await sql`select * from auction.place_bid(${auctionId}, ${userId}, ${amount}::numeric, ${requestId}, ${max}::numeric)`;
  return r as Outcome;
}
