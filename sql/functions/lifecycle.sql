-- Starting and ending auctions, one at a time or in sets, for the job workers and the sweep
-- (src/lifecycle/). Each goes through the row lock bids take, so an auction ends once and never before
-- its end_time; auction_started/auction_ended come from the triggers (notify.sql).
-- The set functions the workers call are security definer, for the service role (docs/admin.md).
-- Applied after the migrations and again whenever it changes: each definition is whole, with its SET clauses
-- (docs/sql-conventions.md).

-- Ends an open auction whose end_time has passed; returns the row either way (the caller reads
-- status and end_time, e.g. to reschedule). Idempotent; takes the row lock, so bids and the end are ordered.
create or replace function auction.end_auction_if_due(p_auction_id uuid) returns auction.auctions
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

-- Starts a pending auction whose start_time has passed (bids also start it). Idempotent.
create or replace function auction.start_auction_if_due(p_auction_id uuid) returns auction.auctions
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

-- end_auction_if_due for each id, locking in id order so two batches never deadlock. Returns every row
-- found, ended or not: the caller re-enqueues those still open (their end_time moved later).
create or replace function auction.end_auctions_if_due(p_ids uuid[]) returns setof auction.auctions
language plpgsql
security definer
set search_path = auction, pg_catalog, pg_temp
as $$
declare
  v_id uuid;
  a    auctions;
begin
  for v_id in select distinct x from unnest(p_ids) x where x is not null order by 1 loop
    a := end_auction_if_due(v_id);
    if a.id is not null then
      return next a;
    end if;
  end loop;
end;
$$;

-- start_auction_if_due for each id, in id order. Returns every row found, so the caller can see which
-- are still pending because their start_time moved later.
create or replace function auction.start_auctions_if_due(p_ids uuid[]) returns setof auction.auctions
language plpgsql
security definer
set search_path = auction, pg_catalog, pg_temp
as $$
declare
  v_id uuid;
  a    auctions;
begin
  for v_id in select distinct x from unnest(p_ids) x where x is not null order by 1 loop
    a := start_auction_if_due(v_id);
    if a.id is not null then
      return next a;
    end if;
  end loop;
end;
$$;

-- The sweep: ends up to p_limit open auctions past their end_time, whoever created them and whether or
-- not a job exists. skip locked: a row a bid or a job holds is left to that holder or the next sweep.
create or replace function auction.end_due_auctions(p_limit int default 500) returns setof auction.auctions
language sql
security definer
set search_path = auction, pg_catalog, pg_temp
as $$
  update auctions a
     set status = 'ended', winner_id = a.high_bidder_id, ended_at = clock_timestamp(),
         updated_at = clock_timestamp()
   where a.id in (select d.id from auctions d
                   where d.status in ('pending', 'active') and d.end_time <= clock_timestamp()
                   order by d.end_time
                   limit p_limit
                   for update skip locked)
     and a.status in ('pending', 'active')
     and a.end_time <= clock_timestamp()
  returning a.*;
$$;

comment on function auction.end_due_auctions(int) is
  'Ends up to p_limit open auctions past end_time (skips rows locked by others); returns the ended rows.';

-- The sweep: starts up to p_limit pending auctions whose start_time has passed and end_time has not.
create or replace function auction.start_due_auctions(p_limit int default 500) returns setof auction.auctions
language sql
security definer
set search_path = auction, pg_catalog, pg_temp
as $$
  update auctions a
     set status = 'active', updated_at = clock_timestamp()
   where a.id in (select d.id from auctions d
                   where d.status = 'pending' and d.start_time <= clock_timestamp()
                     and clock_timestamp() < d.end_time
                   order by d.start_time
                   limit p_limit
                   for update skip locked)
     and a.status = 'pending'
     and a.start_time <= clock_timestamp()
     and clock_timestamp() < a.end_time
  returning a.*;
$$;

comment on function auction.start_due_auctions(int) is
  'Starts up to p_limit due pending auctions (skips rows locked by others); returns the started rows.';
