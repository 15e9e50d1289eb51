-- Trigger functions that hold the invariants for every writer (service or psql). The triggers that call
-- them are schema, created by the migrations (sql/schema.sql lists them); naming: docs/sql-conventions.md.
--   AU001 invalid status transition     AU002 column may not change
--   AU003 bids are append-only          AU004 price/seq change without a matching bid
--   AU016 the creator does not own the item
-- Applied after the migrations and again whenever it changes: each definition is whole, with its SET clauses
-- (docs/sql-conventions.md).

-- New auctions: eBay's increments unless a fixed one is given.
create or replace function auction.auctions_before_insert_defaults() returns trigger
language plpgsql
set search_path = auction, pg_catalog
as $$
begin
  new.current_price := new.starting_price;
  new.seq := 0;
  new.high_bidder_id := null;
  new.leader_max := null;
  new.last_bid_at := null;
  new.winner_id := null;
  new.end_reason := null;
  if new.min_increment is not null then
    new.increment_table := null;
  elsif new.increment_table is null then
    new.increment_table := default_increment_table();
  end if;
  if new.status not in ('pending', 'active') then
    raise exception 'a new auction is pending or active, not %', new.status using errcode = 'AU001';
  end if;
  return new;
end;
$$;

-- New auctions: only an item's owner may auction it; an item without an owner, anyone. The share lock holds
-- the owner until commit, so assign_item_owner cannot change it under the insert. The auction keeps its
-- creator when the item later changes hands (auctions_guard_update: creator_id never changes).
create or replace function auction.auctions_before_insert_item_owner() returns trigger
language plpgsql
set search_path = auction, pg_catalog
as $$
declare
  v_owner uuid;
begin
  select i.owner_id into v_owner from items i where i.id = new.item_id for share;
  if v_owner is not null and v_owner <> new.creator_id then
    raise exception 'only the owner of item % may auction it', new.item_id using errcode = 'AU016';
  end if;
  return new;
end;
$$;

create or replace function auction.auctions_guard_update() returns trigger
language plpgsql
set search_path = auction, pg_catalog
as $$
begin
  if old.status in ('ended', 'cancelled') then
    raise exception 'auction % is % and can no longer change', old.id, old.status using errcode = 'AU001';
  end if;
  if new.status <> old.status and not (
       (old.status = 'pending' and new.status in ('active', 'ended', 'cancelled'))
    or (old.status = 'active'  and new.status in ('ended', 'cancelled'))) then
    raise exception 'auction % cannot go from % to %', old.id, old.status, new.status using errcode = 'AU001';
  end if;
  if new.id <> old.id or new.item_id <> old.item_id or new.creator_id <> old.creator_id then
    raise exception 'auction id, item_id and creator_id never change' using errcode = 'AU002';
  end if;
  if old.seq > 0 and (new.starting_price <> old.starting_price
       or new.min_increment is distinct from old.min_increment
       or new.increment_table is distinct from old.increment_table
       or new.reserve_price is distinct from old.reserve_price
       or new.buy_now_price is distinct from old.buy_now_price
       or new.soft_close_seconds <> old.soft_close_seconds) then
    raise exception 'prices, increments and soft close are fixed once bidding started' using errcode = 'AU002';
  end if;
  if new.seq <> old.seq then
    -- This trigger runs after the row lock is granted. An UPDATE that waited on a lock-only holder
    -- (SELECT ... FOR UPDATE) is not re-checked by EvalPlanQual, so its WHERE saw an old clock:
    -- bids whose time ran out while they waited are skipped here, and place_bids reports 'ended'.
    new.last_bid_at := clock_timestamp();
    if new.last_bid_at >= old.end_time or old.status not in ('pending', 'active') then
      return null;
    end if;
    -- place_bids applies the increments; here the price only has to rise with the count of bids
    if new.seq < old.seq
       or new.current_price < (case when old.seq = 0 then old.starting_price else old.current_price + 0.01 end) then
      raise exception 'auction % seq/price may only advance with valid bids', old.id using errcode = 'AU004';
    end if;
  elsif new.current_price <> old.current_price or new.high_bidder_id is distinct from old.high_bidder_id then
    raise exception 'auction % price and high bidder change only with a bid', old.id using errcode = 'AU004';
  end if;
  if new.status = 'ended' and old.status <> 'ended' then
    -- the winner follows from the bids, whoever ends the auction: the high bidder, if the reserve is met
    -- (naming anyone else still fails auctions_winner_is_high_bidder)
    if new.winner_id is null or new.winner_id = new.high_bidder_id then
      new.winner_id := case when reserve_met(new) then new.high_bidder_id end;
    end if;
    new.ended_at := coalesce(new.ended_at, clock_timestamp());
    if new.end_reason = 'buy_now' then
      -- a buy-now ends the auction at its bid: the end is the next instant (a bid is always before the end)
      new.end_time := least(new.end_time, new.last_bid_at + interval '1 microsecond');
    end if;
    new.end_reason := coalesce(new.end_reason,
                               case when new.end_time <= clock_timestamp() then 'time' else 'operator' end);
  end if;
  return new;
end;
$$;

-- At commit: the auction's price and high bidder are those of its last stored bid, and every seq
-- this update added has its bid.
create or replace function auction.auctions_check_bid_exists() returns trigger
language plpgsql
set search_path = auction, pg_catalog
set enable_seqscan = off
as $$
begin
  -- one range scan of the seqs this update added (the last of them is new.seq: the trigger fires when it moved)
  if not coalesce((select count(*) = new.seq - old.seq
                          and bool_or(b.seq = new.seq and b.amount = new.current_price and b.user_id = new.high_bidder_id)
                     from bids b where b.auction_id = new.id and b.seq > old.seq and b.seq <= new.seq), false) then
    raise exception 'auction % seq % has no matching bid', new.id, new.seq using errcode = 'AU004';
  end if;
  return null;
end;
$$;

create or replace function auction.bids_guard_append_only() returns trigger
language plpgsql
as $$
begin
  raise exception 'bids are append-only (% refused)', tg_op using errcode = 'AU003';
end;
$$;

-- A bid row must carry a seq its auction has reached (checked at commit, after the guarded UPDATE).
create or replace function auction.bids_check_seq_reached() returns trigger
language plpgsql
set search_path = auction, pg_catalog
set enable_seqscan = off
as $$
begin
  if not exists (select 1 from auctions a where a.id = new.auction_id and a.seq >= new.seq) then
    raise exception 'bid % has seq % beyond its auction', new.id, new.seq using errcode = 'AU004';
  end if;
  return null;
end;
$$;
