import type { Sql, TransactionSql } from 'postgres';
import { sql as ksql, type Compilable, type Kysely } from 'kysely';
import { ClientFacingError } from '../db/errors.ts';
import type { Database, AuctionStatus, IncrementStep } from '../db/schema.ts';
import type { EndReason } from '../protocol/messages.ts';
import type { CreateAuctionData } from '../protocol/requests.ts';

export type AuctionRow = {
  id: string; item_id: string; creator_id: string; start_time: Date; end_time: Date;
  starting_price: string; current_price: string; min_increment: string | null; increment_table: IncrementStep[] | null;
  reserve_price: string | null; buy_now_price: string | null; soft_close_seconds: number; status: AuctionStatus;
  seq: number; high_bidder_id: string | null; winner_id: string | null; cancel_reason: string | null;
  end_reason: EndReason | null; created_at: Date; updated_at: Date;
  // derived in SQL (auction.auction_facts), so the service and psql agree
  min_next_bid: string; reserve_met: boolean; buy_now_available: boolean;
};

/** An auction with the names people see: its item's, its seller's, its leader's and its winner's. */
export type NamedAuction = AuctionRow & {
  item_name: string; item_description: string; creator_name: string; high_bidder_name: string | null; winner_name: string | null;
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

/** A create_auction body (socket or REST) as the domain's input. */
export function createAuctionInput(creatorId: string, d: CreateAuctionData): CreateAuctionInput {
  return {
    creatorId, itemId: d.item_id, item: d.item, startTime: d.start_time, endTime: d.end_time,
    startingPrice: d.starting_price, minIncrement: d.min_increment, incrementTable: d.increment_table,
    reservePrice: d.reserve_price, buyNowPrice: d.buy_now_price, softCloseSeconds: d.soft_close_seconds,
  };
}

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
        from auction.create_auction(
          p_item_id => ${itemId}, p_creator_id => ${input.creatorId},
          p_start_time => ${input.startTime ?? null}::timestamptz, p_end_time => ${input.endTime}::timestamptz,
          p_starting_price => ${input.startingPrice}::numeric, p_min_increment => ${input.minIncrement ?? null}::numeric,
          p_increment_table => ${table}::jsonb, p_reserve_price => ${input.reservePrice ?? null}::numeric,
          p_buy_now_price => ${input.buyNowPrice ?? null}::numeric, p_soft_close_seconds => ${input.softCloseSeconds ?? 0}::int) c`;
    if (schedule) await schedule(tx, a);
    return a;
  }) as Promise<AuctionRow>;
}

export async function createItem(sql: Sql, ownerId: string, name: string, description = '') {
  const [row] = await sql`select auction.create_item(${name}, ${description}, ${ownerId}) as id`;
  return { id: row.id as string, name, description, owner_id: ownerId };
}

/** auction.auction_facts with the names from items and users: what snapshots are made of. */
function namedAuctions(db: Kysely<Database>) {
  return db.selectFrom('auction.auction_facts as f')
    .innerJoin('auction.items as i', 'i.id', 'f.item_id')
    .innerJoin('auction.users as c', 'c.id', 'f.creator_id')
    .leftJoin('auction.users as h', 'h.id', 'f.high_bidder_id')
    .leftJoin('auction.users as w', 'w.id', 'f.winner_id')
    .selectAll('f')
    .select(['i.name as item_name', 'i.description as item_description', 'c.name as creator_name',
      'h.name as high_bidder_name', 'w.name as winner_name']);
}

export type Pool = { sql: Sql; db: Kysely<Database> };

/**
 * Kysely builds the query and the shared pool runs it: kysely-postgres-js would reserve a connection for each
 * query, and the feeds read auctions often (every resubscribe after a reconnect).
 */
async function run<T>(sql: Sql, q: Compilable): Promise<T[]> {
  const c = q.compile();
  return (await sql.unsafe(c.sql, c.parameters as never[], { prepare: true })) as unknown as T[];
}

export async function getAuction(pool: Pool, id: string): Promise<NamedAuction | undefined> {
  const [a] = await run<NamedAuction>(pool.sql, namedAuctions(pool.db).where('f.id', '=', id));
  return a;
}

export type ListInput = { status?: AuctionStatus; limit: number; cursor?: string };

export type AuctionPage = { auctions: NamedAuction[]; next_cursor: string | null };

/** Newest first, keyset-paginated on (created_at, id); the cursor is opaque to clients. */
export async function listAuctions(pool: Pool, input: ListInput): Promise<AuctionPage> {
  let q = namedAuctions(pool.db).orderBy('f.created_at', 'desc').orderBy('f.id', 'desc').limit(input.limit + 1);
  if (input.status) q = q.where('f.status', '=', input.status);
  if (input.cursor) {
    const [at, id] = decodeCursor(input.cursor);
    q = q.where(ksql<boolean>`(f.created_at, f.id) < (${at}::timestamptz, ${id}::uuid)`);
  }
  const rows = await run<NamedAuction>(pool.sql, q);
  const page = rows.slice(0, input.limit);
  const next = rows.length > input.limit ? encodeCursor(page.at(-1)!) : null;
  return { auctions: page, next_cursor: next };
}

/** Newest first by offset, as the original design listed (its dialect's list_auctions); ours pages by cursor. */
export async function listAuctionsByOffset(pool: Pool, input: { limit: number; offset: number }): Promise<NamedAuction[]> {
  return run<NamedAuction>(pool.sql, namedAuctions(pool.db).orderBy('f.created_at', 'desc').orderBy('f.id', 'desc')
    .limit(input.limit).offset(input.offset));
}

function encodeCursor(a: AuctionRow) {
  return Buffer.from(`${a.created_at.toISOString()}|${a.id}`).toString('base64url');
}

class BadCursorError extends ClientFacingError {
  constructor() {
    super('invalid_argument', 400, 'invalid cursor');
  }
}

// what encodeCursor writes: a 4-digit-year ISO time (well inside timestamptz's range), '|', a lowercase uuid
const CURSOR = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)\|([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

/** Only a cursor encodeCursor could have written decodes: anything else is the client's error, never the database's. */
function decodeCursor(c: string): [string, string] {
  const raw = Buffer.from(c, 'base64url');
  const m = CURSOR.exec(raw.toString());
  if (!m || raw.toString('base64url') !== c) throw new BadCursorError();
  const at = new Date(m[1]);
  if (Number.isNaN(at.getTime()) || at.toISOString() !== m[1]) throw new BadCursorError();
  return [m[1], m[2]];
}

export type BidRow = {
  id: string; auction_id: string; user_id: string; user_name: string; amount: string; seq: number; created_at: Date;
  kind: 'bid' | 'proxy' | 'buy_now'; reserve_met: boolean;
  /** right after this bid (auction.bid_facts): the least next bid, and the buy-now price while still offered */
  min_next_bid: string; buy_now_price: string | null;
};

/** Accepted bids after a seq, in order, with the bidder's name: the source of truth for replay and catch-up. */
export async function bidsSince(sql: Sql, auctionId: string, afterSeq: number, limit = 1000): Promise<BidRow[]> {
  return sql<BidRow[]>`
    select b.id, b.auction_id, b.user_id, u.name as user_name, b.amount, b.seq, b.created_at, b.kind,
           (a.reserve_price is null or b.amount >= a.reserve_price) as reserve_met, f.min_next_bid,
           case when f.buy_now_available then a.buy_now_price end as buy_now_price
      from auction.bids b join auction.auctions a on a.id = b.auction_id join auction.users u on u.id = b.user_id
           cross join lateral auction.bid_facts(a, b.seq, b.amount, b.kind) f
     where b.auction_id = ${auctionId} and b.seq > ${afterSeq}
     order by b.seq limit ${limit}`;
}
