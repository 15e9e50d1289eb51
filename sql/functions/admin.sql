-- Operator functions, for the service and for operators in psql (docs/admin.md). They notify like the
-- service does, since notifications come from the triggers (notify.sql).
--   AU010 auction not found   AU011 auction already ended   AU012 auction cancelled
--   AU013 auction has not started   AU014 invalid argument   AU015 buy-now is not available (bids.sql)
--   AU016 not the item's owner (guards.sql)   AU017 item not found
-- ensure_user, create_item and create_auction are security definer: the service role calls them and writes
-- no table itself (docs/admin.md, "Database roles"). The other functions are for operators: EXECUTE is
-- revoked from PUBLIC below, so only the owner (or a role it grants) may call them.
-- Applied after the migrations and again whenever it changes: each definition is whole, with its SET clauses
-- (docs/sql-conventions.md).

create or replace function auction.ensure_user(p_id uuid, p_name text default null) returns uuid
language sql
security definer
set search_path = auction, pg_catalog, pg_temp
as $$
  insert into users (id, name) values (p_id, coalesce(nullif(p_name, ''), left(p_id::text, 8)))
  on conflict (id) do nothing;
  select p_id;
$$;

create or replace function auction.create_item(p_name text, p_description text default '', p_owner_id uuid default null)
returns uuid
language sql
security definer
set search_path = auction, pg_catalog, pg_temp
as $$
  insert into items (name, description, owner_id) values (p_name, coalesce(p_description, ''), p_owner_id)
  returning id;
$$;

-- Gives an item an owner (or, with null, none): from then on only that user may auction it (AU016 for anyone
-- else; an ownerless item anyone may). Auctions already created keep their creator. Idempotent.
create or replace function auction.assign_item_owner(p_item_id uuid, p_owner_id uuid) returns auction.items
language plpgsql
set search_path = auction, pg_catalog
as $$
declare
  i items;
begin
  update items set owner_id = p_owner_id where id = p_item_id returning * into i;
  if not found then
    raise exception 'item % not found', p_item_id using errcode = 'AU017';
  end if;
  return i;
end;
$$;

-- Call it with names, leaving out what has a default:
--   select auction.create_auction(p_item_id => ..., p_creator_id => ..., p_end_time => ..., p_starting_price => ...)
-- p_start_time: null or left out starts it now. p_min_increment: a fixed increment; null uses p_increment_table,
-- or eBay's steps when that is null too. The item, creator, end time and starting price are required (AU014).
-- The creator must own the item when it has an owner (AU016, from auctions_before_insert_item_owner).
-- A new option is a new parameter at the end with a default, so positional callers keep working; the
-- migration that adds it drops the old signature (docs/sql-conventions.md).
create or replace function auction.create_auction(
  p_item_id            uuid,
  p_creator_id         uuid,
  p_start_time         timestamptz default null,
  p_end_time           timestamptz default null,
  p_starting_price     numeric default null,
  p_min_increment      numeric default null,
  p_increment_table    jsonb default null,
  p_reserve_price      numeric default null,
  p_buy_now_price      numeric default null,
  p_soft_close_seconds int default 0
) returns auction.auctions
language plpgsql
security definer
set search_path = auction, pg_catalog, pg_temp
as $$
declare
  a auctions;
begin
  if p_item_id is null or p_creator_id is null or p_end_time is null or p_starting_price is null then
    raise exception 'item_id, creator_id, end_time and starting_price are required' using errcode = 'AU014';
  end if;
  if p_starting_price is null or p_starting_price <= 0 or p_starting_price <> round(p_starting_price, 2) then
    raise exception 'starting_price must be a positive amount with at most two decimals' using errcode = 'AU014';
  end if;
  if p_min_increment is not null and (p_min_increment <= 0 or p_min_increment <> round(p_min_increment, 2)) then
    raise exception 'min_increment must be a positive amount with at most two decimals' using errcode = 'AU014';
  end if;
  if p_min_increment is not null and p_increment_table is not null then
    raise exception 'give min_increment or increment_table, not both' using errcode = 'AU014';
  end if;
  if p_increment_table is not null and not valid_increment_table(p_increment_table) then
    raise exception 'increment_table must be 1 to 50 steps [{"below":n,"step":n}, ..., {"step":n}] with rising bounds'
      using errcode = 'AU014';
  end if;
  if p_reserve_price is not null and (p_reserve_price < p_starting_price or p_reserve_price <> round(p_reserve_price, 2)) then
    raise exception 'reserve_price must be at least the starting price, with at most two decimals' using errcode = 'AU014';
  end if;
  if p_buy_now_price is not null and (p_buy_now_price < greatest(p_starting_price, coalesce(p_reserve_price, 0))
                                      or p_buy_now_price <> round(p_buy_now_price, 2)) then
    raise exception 'buy_now_price must be at least the starting and reserve prices, with at most two decimals'
      using errcode = 'AU014';
  end if;
  if p_soft_close_seconds is null or p_soft_close_seconds not between 0 and 3600 then
    raise exception 'soft_close_seconds must be 0 to 3600' using errcode = 'AU014';
  end if;
  if p_end_time <= clock_timestamp() then
    raise exception 'end_time must be in the future' using errcode = 'AU014';
  end if;
  insert into auctions (item_id, creator_id, start_time, end_time, starting_price, min_increment, increment_table,
                        reserve_price, buy_now_price, soft_close_seconds, status)
  values (p_item_id, p_creator_id, coalesce(p_start_time, clock_timestamp()), p_end_time, p_starting_price, p_min_increment,
          p_increment_table, p_reserve_price, p_buy_now_price, p_soft_close_seconds, 'pending')
  returning * into a;
  return a;
end;
$$;

create or replace function auction.cancel_auction(p_auction_id uuid, p_reason text) returns auction.auctions
language plpgsql
set search_path = auction, pg_catalog
as $$
declare
  a auctions;
begin
  if p_reason is null or btrim(p_reason) = '' then
    raise exception 'a cancel reason is required' using errcode = 'AU014';
  end if;
  select * into a from auctions where id = p_auction_id for update;
  if not found then
    raise exception 'auction % not found', p_auction_id using errcode = 'AU010';
  elsif a.status = 'cancelled' then
    return a;
  elsif a.status = 'ended' or clock_timestamp() >= a.end_time then
    -- past end_time the result stands even before the end job runs (as in extend_auction and place_bid)
    raise exception 'auction % already ended', p_auction_id using errcode = 'AU011';
  end if;
  update auctions set status = 'cancelled', cancel_reason = p_reason, updated_at = clock_timestamp()
   where id = p_auction_id returning * into a;
  return a;
end;
$$;

-- Operator's "end now": moves end_time to now and ends the auction. Idempotent on an ended auction.
create or replace function auction.end_auction(p_auction_id uuid) returns auction.auctions
language plpgsql
set search_path = auction, pg_catalog
as $$
declare
  a auctions;
begin
  select * into a from auctions where id = p_auction_id for update;
  if not found then
    raise exception 'auction % not found', p_auction_id using errcode = 'AU010';
  elsif a.status = 'ended' then
    return a;
  elsif a.status = 'cancelled' then
    raise exception 'auction % was cancelled', p_auction_id using errcode = 'AU012';
  elsif clock_timestamp() < a.start_time then
    raise exception 'auction % has not started; cancel it instead', p_auction_id using errcode = 'AU013';
  end if;
  update auctions
     set status = 'ended', winner_id = high_bidder_id, ended_at = clock_timestamp(),
         end_time = least(end_time, clock_timestamp()), updated_at = clock_timestamp()
   where id = p_auction_id returning * into a;
  return a;
end;
$$;

-- Moves the end of an open auction later. Subscribers get auction_extended.
create or replace function auction.extend_auction(p_auction_id uuid, p_new_end_time timestamptz) returns auction.auctions
language plpgsql
set search_path = auction, pg_catalog
as $$
declare
  a auctions;
begin
  select * into a from auctions where id = p_auction_id for update;
  if not found then
    raise exception 'auction % not found', p_auction_id using errcode = 'AU010';
  elsif a.status = 'ended' or clock_timestamp() >= a.end_time then
    raise exception 'auction % already ended', p_auction_id using errcode = 'AU011';
  elsif a.status = 'cancelled' then
    raise exception 'auction % was cancelled', p_auction_id using errcode = 'AU012';
  elsif p_new_end_time is null or p_new_end_time <= a.end_time then
    raise exception 'new end time must be later than %', a.end_time using errcode = 'AU014';
  end if;
  update auctions set end_time = p_new_end_time, updated_at = clock_timestamp()
   where id = p_auction_id returning * into a;
  return a;
end;
$$;

revoke execute on function auction.assign_item_owner(uuid, uuid) from public;
revoke execute on function auction.cancel_auction(uuid, text) from public;
revoke execute on function auction.end_auction(uuid) from public;
revoke execute on function auction.extend_auction(uuid, timestamptz) from public;
