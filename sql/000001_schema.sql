-- Tables, constraints and indexes of the auction domain.
-- Runs as is in psql: psql "$DATABASE_URL" -f sql/000001_schema.sql

create schema if not exists auction;

create table auction.users (
  id          uuid primary key,
  name        text not null check (char_length(name) between 1 and 255),
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now()
);

create table auction.items (
  id          uuid primary key default gen_random_uuid(),
  name        text not null check (char_length(name) between 1 and 255),
  description text not null default '' check (char_length(description) <= 10000),
  owner_id    uuid references auction.users (id),
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now()
);

create table auction.auctions (
  id              uuid primary key default gen_random_uuid(),
  item_id         uuid not null references auction.items (id),
  creator_id      uuid not null references auction.users (id),
  start_time      timestamptz not null,
  end_time        timestamptz not null,
  starting_price  numeric(12,2) not null check (starting_price > 0),
  -- equals starting_price until the first accepted bid, then the highest accepted amount
  current_price   numeric(12,2) not null,
  min_increment   numeric(12,2) not null default 0.01 check (min_increment > 0),
  status          text not null default 'pending'
                  check (status in ('pending', 'active', 'ended', 'cancelled')),
  -- number of accepted bids; assigned under the row lock so it has no gaps
  seq             bigint not null default 0 check (seq >= 0),
  high_bidder_id  uuid references auction.users (id),
  last_bid_at     timestamptz,
  winner_id       uuid references auction.users (id),
  ended_at        timestamptz,
  cancel_reason   text,
  created_at      timestamptz not null default now(),
  updated_at      timestamptz not null default now(),
  constraint auctions_end_after_start check (end_time > start_time),
  constraint auctions_price_consistent check (
    current_price >= starting_price and (seq > 0 or current_price = starting_price)),
  constraint auctions_high_bidder_iff_bids check ((seq = 0) = (high_bidder_id is null)),
  constraint auctions_last_bid_before_end check (last_bid_at is null or last_bid_at < end_time),
  constraint auctions_winner_only_when_ended check (winner_id is null or status = 'ended'),
  constraint auctions_winner_is_high_bidder check (winner_id is null or winner_id = high_bidder_id),
  constraint auctions_cancel_reason check ((status = 'cancelled') = (cancel_reason is not null))
);

-- Item uniqueness: at most one open (pending or active) auction per item, whoever inserts it.
create unique index auctions_one_open_per_item
  on auction.auctions (item_id) where status in ('pending', 'active');
create index auctions_open_by_end_time
  on auction.auctions (end_time) where status in ('pending', 'active');
create index auctions_pending_by_start_time
  on auction.auctions (start_time) where status = 'pending';
create index auctions_by_status_created on auction.auctions (status, created_at desc, id desc);
create index auctions_by_creator on auction.auctions (creator_id, created_at desc);

-- The log of accepted bids. Rejected bids change nothing and are not stored (they are counted in metrics).
create table auction.bids (
  id          uuid primary key default gen_random_uuid(),
  auction_id  uuid not null references auction.auctions (id),
  user_id     uuid not null references auction.users (id),
  amount      numeric(12,2) not null check (amount > 0),
  seq         bigint not null check (seq > 0),
  -- kept from the original design's schema; every stored bid is accepted
  status      text not null default 'accepted' check (status = 'accepted'),
  request_id  text check (char_length(request_id) between 1 and 128),
  created_at  timestamptz not null default clock_timestamp(),
  updated_at  timestamptz not null default clock_timestamp(),
  constraint bids_seq_unique unique (auction_id, seq),
  constraint bids_request_unique unique (auction_id, user_id, request_id)
);

create index bids_by_user on auction.bids (user_id, created_at desc);
