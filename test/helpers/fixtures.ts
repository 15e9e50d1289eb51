import { randomUUID } from 'node:crypto';
import type { Sql } from 'postgres';

export async function makeUser(sql: Sql, name = 'user') {
  const id = randomUUID();
  await sql`select auction.ensure_user(${id}, ${name})`;
  return id;
}

type AuctionOpts = {
  seller?: string;
  startsIn?: number; // seconds from now, may be negative
  endsIn?: number;
  startingPrice?: string;
  /** null: the increment table (eBay's steps unless `incrementTable`) */
  minIncrement?: string | null;
  incrementTable?: { below?: number; step: number }[];
  reservePrice?: string;
  buyNowPrice?: string;
  softCloseSeconds?: number;
  itemId?: string;
};

/** Creates an item and an auction through the SQL functions; times are relative to the database clock. */
export async function makeAuction(sql: Sql, o: AuctionOpts = {}) {
  const seller = o.seller ?? (await makeUser(sql, 'seller'));
  const itemId = o.itemId ?? (await sql`select auction.create_item('lamp', 'a lamp') as id`)[0].id as string;
  const [a] = await sql`
    select * from auction.create_auction(
      ${itemId}, ${seller},
      clock_timestamp() + make_interval(secs => ${o.startsIn ?? -1}),
      clock_timestamp() + make_interval(secs => ${o.endsIn ?? 3600}),
      ${o.startingPrice ?? '10.00'}, ${o.minIncrement === undefined ? '1.00' : o.minIncrement}::numeric,
      ${o.incrementTable ? sql.json(o.incrementTable) : null}::jsonb, ${o.reservePrice ?? null}::numeric,
      ${o.buyNowPrice ?? null}::numeric, ${o.softCloseSeconds ?? 0}::int)`;
  return { id: a.id as string, seller, itemId };
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
