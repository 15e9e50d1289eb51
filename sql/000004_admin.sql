-- Operations for the service and for operators in psql (docs/admin.md). They notify like the service does,
-- since notifications come from the triggers in 000003.
--   AU010 auction not found   AU011 auction already ended   AU012 auction cancelled
--   AU013 auction has not started   AU014 invalid argument

create function auction.ensure_user(p_id uuid, p_name text default null) returns uuid
language sql
set search_path = auction, pg_catalog
as $$
  insert into users (id, name) values (p_id, coalesce(nullif(p_name, ''), left(p_id::text, 8)))
  on conflict (id) do nothing;
  select p_id;
$$;

create function auction.create_item(p_name text, p_description text default '', p_owner_id uuid default null)
returns uuid
language sql
set search_path = auction, pg_catalog
as $$
  insert into items (name, description, owner_id) values (p_name, coalesce(p_description, ''), p_owner_id)
  returning id;
$$;

create function auction.create_auction(
  p_item_id        uuid,
  p_creator_id     uuid,
  p_start_time     timestamptz,
  p_end_time       timestamptz,
  p_starting_price numeric,
  p_min_increment  numeric default 0.01
) returns auction.auctions
language plpgsql
set search_path = auction, pg_catalog
as $$
declare
  a auctions;
begin
  if p_starting_price is null or p_starting_price <= 0 or p_starting_price <> round(p_starting_price, 2) then
    raise exception 'starting_price must be a positive amount with at most two decimals' using errcode = 'AU014';
  end if;
  if p_min_increment is null or p_min_increment <= 0 or p_min_increment <> round(p_min_increment, 2) then
    raise exception 'min_increment must be a positive amount with at most two decimals' using errcode = 'AU014';
  end if;
  if p_start_time is null or p_end_time is null then
    raise exception 'start_time and end_time are required' using errcode = 'AU014';
  end if;
  if p_end_time <= clock_timestamp() then
    raise exception 'end_time must be in the future' using errcode = 'AU014';
  end if;
  insert into auctions (item_id, creator_id, start_time, end_time, starting_price, min_increment, status)
  values (p_item_id, p_creator_id, p_start_time, p_end_time, p_starting_price, p_min_increment, 'pending')
  returning * into a;
  return a;
end;
$$;

create function auction.cancel_auction(p_auction_id uuid, p_reason text) returns auction.auctions
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

-- Ends an open auction whose end_time has passed; returns the row either way (the caller reads
-- status and end_time, e.g. to reschedule). Idempotent; takes the row lock, so bids and the end are ordered.
create function auction.end_auction_if_due(p_auction_id uuid) returns auction.auctions
language plpgsql
set search_path = auction, pg_catalog
as $$
declare
  a auctions;
begin
  select * into a from auctions where id = p_auction_id for update;
  if found and a.status in ('pending', 'active') and clock_timestamp() >= a.end_time then
    update auctions
       set status = 'ended', winner_id = high_bidder_id, ended_at = clock_timestamp(),
           updated_at = clock_timestamp()
     where id = p_auction_id returning * into a;
  end if;
  return a;
end;
$$;

-- Operator's "end now": moves end_time to now and ends the auction. Idempotent on an ended auction.
create function auction.end_auction(p_auction_id uuid) returns auction.auctions
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

-- Starts a pending auction whose start_time has passed (bids also start it). Idempotent.
create function auction.start_auction_if_due(p_auction_id uuid) returns auction.auctions
language plpgsql
set search_path = auction, pg_catalog
as $$
declare
  a auctions;
begin
  select * into a from auctions where id = p_auction_id for update;
  if found and a.status = 'pending' and clock_timestamp() >= a.start_time and clock_timestamp() < a.end_time then
    update auctions set status = 'active', updated_at = clock_timestamp()
     where id = p_auction_id returning * into a;
  end if;
  return a;
end;
$$;

-- Moves the end of an open auction later. Subscribers get auction_extended.
create function auction.extend_auction(p_auction_id uuid, p_new_end_time timestamptz) returns auction.auctions
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

create view auction.live_auctions as
select a.id, i.name as item, a.status, a.current_price, a.seq as bids, a.high_bidder_id,
       hb.name as high_bidder, a.start_time, a.end_time,
       greatest(a.end_time - clock_timestamp(), interval '0') as time_left
  from auction.auctions a
  join auction.items i on i.id = a.item_id
  left join auction.users hb on hb.id = a.high_bidder_id
 where a.status in ('pending', 'active')
 order by a.end_time;

create view auction.bid_history as
select b.auction_id, b.seq, b.amount, b.user_id, u.name as bidder, b.created_at, b.request_id, b.id as bid_id
  from auction.bids b
  join auction.users u on u.id = b.user_id;
