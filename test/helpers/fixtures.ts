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
  minIncrement?: string;
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
      ${o.startingPrice ?? '10.00'}, ${o.minIncrement ?? '1.00'})`;
  return { id: a.id as string, seller, itemId };
}

export async function bid(sql: Sql, auctionId: string, userId: string, amount: string | number | null, requestId: string | null = null) {
  const [r] = await sql`select * from auction.place_bid(${auctionId}, ${userId}, ${amount as string}::numeric, ${requestId})`;
  return r as {
    accepted: boolean; reason: string | null; bid_id: string | null; seq: number | null; amount: string | null;
    current_price: string | null; min_amount: string | null; created_at: Date | null; duplicate: boolean;
  };
}
