import type { Sql, TransactionSql } from 'postgres';
import { sql as ksql, type Kysely } from 'kysely';
import type { Database, AuctionStatus } from '../db/schema.ts';
import { fromCents, toCents, toJsonAmount } from './money.ts';

export type AuctionRow = {
  id: string; item_id: string; creator_id: string; start_time: Date; end_time: Date;
  starting_price: string; current_price: string; min_increment: string; status: AuctionStatus;
  seq: number; high_bidder_id: string | null; winner_id: string | null; cancel_reason: string | null;
  created_at: Date;
};

export type Scheduler = (tx: TransactionSql, a: { id: string; start_time: Date; end_time: Date }) => Promise<void>;

export type CreateAuctionInput = {
  creatorId: string;
  itemId?: string;
  item?: { name: string; description?: string };
  startTime: string;
  endTime: string;
  startingPrice: string;
  minIncrement?: string;
};

/** Creates the item (when given inline) and the auction in one transaction, with its start/end jobs. */
export async function createAuction(sql: Sql, input: CreateAuctionInput, schedule?: Scheduler): Promise<AuctionRow> {
  return sql.begin(async (tx) => {
    let itemId = input.itemId;
    if (!itemId) {
      const [item] = await tx`select auction.create_item(${input.item!.name}, ${input.item!.description ?? ''}, ${input.creatorId}) as id`;
      itemId = item.id as string;
    }
    const [a] = await tx<AuctionRow[]>`
      select * from auction.create_auction(${itemId}, ${input.creatorId}, ${input.startTime}::timestamptz,
        ${input.endTime}::timestamptz, ${input.startingPrice}::numeric, ${input.minIncrement ?? '0.01'}::numeric)`;
    if (schedule) await schedule(tx, a);
    return a;
  }) as Promise<AuctionRow>;
}

export async function createItem(sql: Sql, ownerId: string, name: string, description = '') {
  const [row] = await sql`select auction.create_item(${name}, ${description}, ${ownerId}) as id`;
  return { id: row.id as string, name, description, owner_id: ownerId };
}

export async function getAuction(sql: Sql, id: string): Promise<AuctionRow | undefined> {
  const [a] = await sql<AuctionRow[]>`select * from auction.auctions where id = ${id}`;
  return a;
}

/** The public view of an auction, as sent in auction_update and REST responses. */
export function snapshot(a: AuctionRow) {
  return {
    auction_id: a.id,
    item_id: a.item_id,
    creator_id: a.creator_id,
    status: a.status,
    starting_price: toJsonAmount(a.starting_price),
    current_price: toJsonAmount(a.current_price),
    min_increment: toJsonAmount(a.min_increment),
    min_next_bid: toJsonAmount(minNextBid(a)),
    start_time: a.start_time.toISOString(),
    end_time: a.end_time.toISOString(),
    high_bidder_id: a.high_bidder_id,
    winner_id: a.winner_id,
    cancel_reason: a.cancel_reason,
    seq: a.seq,
  };
}

export function minNextBid(a: Pick<AuctionRow, 'seq' | 'starting_price' | 'current_price' | 'min_increment'>) {
  if (a.seq === 0) return a.starting_price;
  return fromCents(toCents(a.current_price) + toCents(a.min_increment));
}

export type ListInput = { status?: AuctionStatus; limit: number; cursor?: string };

/** Newest first, keyset-paginated on (created_at, id); the cursor is opaque to clients. */
export async function listAuctions(db: Kysely<Database>, input: ListInput) {
  let q = db.selectFrom('auction.auctions').selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').limit(input.limit + 1);
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

export type BidRow = { id: string; auction_id: string; user_id: string; amount: string; seq: number; created_at: Date };

/** Accepted bids after a seq, in order: the source of truth for replay and catch-up. */
export async function bidsSince(sql: Sql, auctionId: string, afterSeq: number, limit = 1000): Promise<BidRow[]> {
  return sql<BidRow[]>`
    select id, auction_id, user_id, amount, seq, created_at from auction.bids
     where auction_id = ${auctionId} and seq > ${afterSeq}
     order by seq limit ${limit}`;
}
