import type { ColumnType, Generated } from 'kysely';
import type { IncrementStep } from '../protocol/messages.ts';

export type { IncrementStep };

// Kysely's view of the tables (sql/schema.sql shows them whole). numeric columns are strings: money never becomes a float.
type Timestamp = ColumnType<Date, Date | string, Date | string>;

export type AuctionStatus = 'pending' | 'active' | 'ended' | 'cancelled';

export interface UsersTable {
  id: string;
  name: string;
  created_at: Generated<Timestamp>;
  updated_at: Generated<Timestamp>;
}

export interface ItemsTable {
  id: Generated<string>;
  name: string;
  description: Generated<string>;
  owner_id: string | null;
  created_at: Generated<Timestamp>;
  updated_at: Generated<Timestamp>;
}

export interface AuctionsTable {
  id: Generated<string>;
  item_id: string;
  creator_id: string;
  start_time: Timestamp;
  end_time: Timestamp;
  starting_price: string;
  current_price: string;
  min_increment: string | null;
  increment_table: IncrementStep[] | null;
  reserve_price: string | null;
  buy_now_price: string | null;
  soft_close_seconds: Generated<number>;
  leader_max: string | null;
  end_reason: 'time' | 'operator' | 'buy_now' | null;
  status: Generated<AuctionStatus>;
  seq: Generated<number>;
  high_bidder_id: string | null;
  last_bid_at: Timestamp | null;
  winner_id: string | null;
  ended_at: Timestamp | null;
  cancel_reason: string | null;
  created_at: Generated<Timestamp>;
  updated_at: Generated<Timestamp>;
}

/** auction.auction_facts: an auction with its derived public facts. */
export interface AuctionFactsView extends AuctionsTable {
  min_next_bid: string;
  reserve_met: boolean;
  buy_now_available: boolean;
}

export interface BidsTable {
  id: Generated<string>;
  auction_id: string;
  user_id: string;
  amount: string;
  seq: number;
  status: Generated<'accepted'>;
  request_id: string | null;
  max_amount: string | null;
  kind: Generated<'bid' | 'proxy' | 'buy_now'>;
  created_at: Generated<Timestamp>;
  updated_at: Generated<Timestamp>;
}

export interface Database {
  'auction.users': UsersTable;
  'auction.items': ItemsTable;
  'auction.auctions': AuctionsTable;
  'auction.bids': BidsTable;
  'auction.auction_facts': AuctionFactsView;
}
