import type { Sql, TransactionSql } from 'postgres';
import { sql as ksql, type Kysely } from 'kysely';
import type { Database, AuctionStatus, IncrementStep } from '../db/schema.ts';
import { toJsonAmount } from './money.ts';

export type AuctionRow = {
  id: string; item_id: string; creator_id: string; start_time: Date; end_time: Date;
  starting_price: string; current_price: string; min_increment: string | null; increment_table: IncrementStep[] | null;
  reserve_price: string | null; buy_now_price: string | null; soft_close_seconds: number; status: AuctionStatus;
  seq: number; high_bidder_id: string | null; winner_id: string | null; cancel_reason: string | null;
  end_reason: string | null; created_at: Date;
  // derived in SQL (auction.auction_facts), so the service and psql agree
  min_next_bid: string; reserve_met: boolean; buy_now_available: boolean;
};

export type Scheduler = (tx: TransactionSql, a: { id: string; start_time: Date; end_time: Date }) => Promise<void>;

export type CreateAuctionInput = {
  creatorId: string;
  itemId?: string;
  item?: { name: string; description?: string };
  /** omitted: now */
  startTime?: string;
  endTime: string;
  startingPrice: string;
  /** a fixed increment; without it (and without a table) eBay's steps apply */
  minIncrement?: string;
  incrementTable?: IncrementStep[];
  reservePrice?: string;
  buyNowPrice?: string;
  softCloseSeconds?: number;
};

/** Creates the item (when given inline) and the auction in one transaction, with its start/end jobs. */
export async function createAuction(sql: Sql, input: CreateAuctionInput, schedule?: Scheduler): Promise<AuctionRow> {
  return sql.begin(async (tx) => {
    let itemId = input.itemId;
    if (!itemId) {
      const [item] = await tx`select auction.create_item(${input.item!.name}, ${input.item!.description ?? ''}, ${input.creatorId}) as id`;
      itemId = item.id as string;
    }
    // postgres.js encodes a jsonb parameter itself: give it the array, not a JSON string
    const table = input.incrementTable ? tx.json(input.incrementTable) : null;
    const [a] = await tx<AuctionRow[]>`
      select c.*, auction.min_next_bid(c) as min_next_bid, auction.reserve_met(c) as reserve_met,
             auction.buy_now_available(c) as buy_now_available
        from auction.create_auction(${itemId}, ${input.creatorId}, ${input.startTime ?? null}::timestamptz,
          ${input.endTime}::timestamptz, ${input.startingPrice}::numeric, ${input.minIncrement ?? null}::numeric,
          ${table}::jsonb, ${input.reservePrice ?? null}::numeric, ${input.buyNowPrice ?? null}::numeric,
          ${input.softCloseSeconds ?? 0}::int) c`;
    if (schedule) await schedule(tx, a);
    return a;
  }) as Promise<AuctionRow>;
}

export async function createItem(sql: Sql, ownerId: string, name: string, description = '') {
  const [row] = await sql`select auction.create_item(${name}, ${description}, ${ownerId}) as id`;
  return { id: row.id as string, name, description, owner_id: ownerId };
}

export async function getAuction(sql: Sql, id: string): Promise<AuctionRow | undefined> {
  const [a] = await sql<AuctionRow[]>`select * from auction.auction_facts where id = ${id}`;
  return a;
}

/** The public view of an auction, as sent in auction_update and REST responses. Never the leader's maximum. */
export function snapshot(a: AuctionRow) {
  return {
    auction_id: a.id,
    item_id: a.item_id,
    creator_id: a.creator_id,
    status: a.status,
    starting_price: toJsonAmount(a.starting_price),
    current_price: toJsonAmount(a.current_price),
    min_increment: toJsonAmount(a.min_increment),
    increments: a.min_increment !== null ? { fixed: toJsonAmount(a.min_increment) } : { table: a.increment_table },
    min_next_bid: toJsonAmount(a.min_next_bid),
    has_reserve: a.reserve_price !== null,
    reserve_met: a.reserve_met,
    buy_now_price: a.buy_now_available ? toJsonAmount(a.buy_now_price) : null,
    soft_close_seconds: a.soft_close_seconds,
    start_time: a.start_time.toISOString(),
    end_time: a.end_time.toISOString(),
    high_bidder_id: a.high_bidder_id,
    winner_id: a.winner_id,
    cancel_reason: a.cancel_reason,
    end_reason: a.end_reason,
    seq: a.seq,
  };
}

export type ListInput = { status?: AuctionStatus; limit: number; cursor?: string };

/** Newest first, keyset-paginated on (created_at, id); the cursor is opaque to clients. */
export async function listAuctions(db: Kysely<Database>, input: ListInput) {
  let q = db.selectFrom('auction.auction_facts').selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').limit(input.limit + 1);
  if (input.status) q = q.where('status', '=', input.status);
  if (input.cursor) {
    const [at, id] = decodeCursor(input.cursor);
    q = q.where(ksql<boolean>`(created_at, id) < (${at}::timestamptz, ${id}::uuid)`);
  }
  const rows = (await q.execute()) as unknown as AuctionRow[];
  const page = rows.slice(0, input.limit);
  const next = rows.length > input.limit ? encodeCursor(page.at(-1)!) : null;
  return { auctions: page, next_cursor: next };
}

function encodeCursor(a: AuctionRow) {
  return Buffer.from(`${a.created_at.toISOString()}|${a.id}`).toString('base64url');
}

export class BadCursorError extends Error {}

function decodeCursor(c: string): [string, string] {
  const [at, id] = Buffer.from(c, 'base64url').toString().split('|');
  if (!at || !id || Number.isNaN(Date.parse(at)) || !/^[0-9a-f-]{36}$/.test(id)) throw new BadCursorError('invalid cursor');
  return [at, id];
}

export type BidRow = {
  id: string; auction_id: string; user_id: string; amount: string; seq: number; created_at: Date;
  kind: 'bid' | 'proxy' | 'buy_now'; reserve_met: boolean;
};

/** Accepted bids after a seq, in order: the source of truth for replay and catch-up. */
export async function bidsSince(sql: Sql, auctionId: string, afterSeq: number, limit = 1000): Promise<BidRow[]> {
  return sql<BidRow[]>`
    select b.id, b.auction_id, b.user_id, b.amount, b.seq, b.created_at, b.kind,
           (a.reserve_price is null or b.amount >= a.reserve_price) as reserve_met
      from auction.bids b join auction.auctions a on a.id = b.auction_id
     where b.auction_id = ${auctionId} and b.seq > ${afterSeq}
     order by b.seq limit ${limit}`;
}
