-- The bench's ceiling for taking a bid: the least a PostgreSQL design must do per bid. One guarded UPDATE
-- decides acceptance, one INSERT logs the bid, one pg_notify tells listeners. No users, no request ids,
-- no increments, no proxy bids, no triggers, no constraints beyond keys. Not part of the service: make bench
-- loads it into its own scratch databases only, in its own schema, over a copy of the auctions (and their
-- bid history) that the bench created in auction.auctions.

create schema bench_anchor;

create table bench_anchor.auctions (
  n             int primary key,          -- 1..N: drivers pick an auction with random() in SQL
  id            uuid not null unique,
  status        text not null,
  end_time      timestamptz not null,
  current_price numeric(12,2) not null,
  seq           bigint not null,
  high_bidder   int
);

create table bench_anchor.bids (
  id         bigint generated always as identity primary key,
  auction_id uuid not null references bench_anchor.auctions (id),
  seq        bigint not null,
  bidder     int not null,
  amount     numeric(12,2) not null,
  created_at timestamptz not null default clock_timestamp()
);

insert into bench_anchor.auctions (n, id, status, end_time, current_price, seq)
select row_number() over (order by id), id, status, end_time, current_price, seq from auction.auctions;

insert into bench_anchor.bids (auction_id, seq, bidder, amount, created_at)
select auction_id, seq, 0, amount, created_at from auction.bids;

create function bench_anchor.place_bid(p_n int, p_bidder int, p_amount numeric) returns boolean
language plpgsql
as $$
declare
  a_id uuid;
  a_seq bigint;
begin
  update bench_anchor.auctions
     set current_price = p_amount, high_bidder = p_bidder, seq = seq + 1
   where n = p_n and status = 'active' and clock_timestamp() < end_time and p_amount > current_price
  returning id, seq into a_id, a_seq;
  if not found then
    return false;
  end if;
  insert into bench_anchor.bids (auction_id, seq, bidder, amount) values (a_id, a_seq, p_bidder, p_amount);
  perform pg_notify('bench_anchor:' || a_id, json_build_object(
    'type', 'bid_placed', 'auction_id', a_id, 'seq', a_seq, 'bidder', p_bidder, 'amount', p_amount::text,
    'time', clock_timestamp())::text);
  return true;
end;
$$;

analyze bench_anchor.auctions;
analyze bench_anchor.bids;
