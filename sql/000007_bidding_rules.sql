-- Bidding rules beyond the original design: increment tables, proxy (maximum) bids, soft close,
-- reserve and buy-now prices, outbid alerts. Bids on one auction are judged in arrival order under its
-- row lock, and one guarded UPDATE writes the auction's final state (docs/bidding-rules.md).
-- Runs as is in psql: psql "$DATABASE_URL" -f sql/000007_bidding_rules.sql
--   AU015 buy-now is not available

-- Increments --------------------------------------------------------------------------------------

-- eBay's steps: the increment that applies while the price is below `below`; the last step has no bound.
create function auction.default_increment_table() returns jsonb
language sql immutable parallel safe
as $$
  select '[{"below":1,"step":0.05},{"below":5,"step":0.25},{"below":25,"step":0.50},{"below":100,"step":1.00},
           {"below":250,"step":2.50},{"below":500,"step":5.00},{"below":1000,"step":10.00},
           {"below":2500,"step":25.00},{"below":5000,"step":50.00},{"step":100.00}]'::jsonb;
$$;

-- 1 to 50 steps, `below` strictly rising, only the last one unbounded; steps positive with two decimals.
create function auction.valid_increment_table(p jsonb) returns boolean
language plpgsql immutable parallel safe
as $$
declare
  s      jsonb;
  n      int;
  i      int := 0;
  prev   numeric := 0;
  step   numeric;
  below  numeric;
begin
  if p is null or jsonb_typeof(p) <> 'array' then
    return false;
  end if;
  n := jsonb_array_length(p);
  if n not between 1 and 50 then
    return false;
  end if;
  for s in select value from jsonb_array_elements(p) loop
    i := i + 1;
    if jsonb_typeof(s) <> 'object' or coalesce(jsonb_typeof(s->'step'), '') <> 'number'
       or exists (select 1 from jsonb_object_keys(s) k where k not in ('below', 'step')) then
      return false;
    end if;
    step := (s->>'step')::numeric;
    if step <= 0 or step <> round(step, 2) or step >= 10000000000 then
      return false;
    end if;
    if i < n then
      if coalesce(jsonb_typeof(s->'below'), '') <> 'number' then
        return false;
      end if;
      below := (s->>'below')::numeric;
      if below <= prev or below <> round(below, 2) or below >= 10000000000 then
        return false;
      end if;
      prev := below;
    elsif s ? 'below' then
      return false;
    end if;
  end loop;
  return true;
end;
$$;

-- The increment at a price: the fixed one when set, else the table's step for that price.
create function auction.increment_at(p_fixed numeric, p_table jsonb, p_price numeric) returns numeric
language sql immutable parallel safe
as $$
  select coalesce(p_fixed, (
    select (s->>'step')::numeric
      from jsonb_array_elements(p_table) with ordinality e(s, n)
     where not (s ? 'below') or p_price < (s->>'below')::numeric
     order by n limit 1));
$$;

-- The same as increment_at over a table already unpacked into arrays: the bid loop's version (a jsonb
-- table costs about 20 µs per lookup, arrays about 3).
create function auction.step_at(p_price numeric, p_fixed numeric, p_below numeric[], p_step numeric[]) returns numeric
language plpgsql immutable parallel safe
as $$
declare
  i int;
begin
  if p_fixed is not null then
    return p_fixed;
  end if;
  for i in 1 .. cardinality(p_step) loop
    if p_below[i] is null or p_price < p_below[i] then
      return p_step[i];
    end if;
  end loop;
  return null;
end;
$$;

-- Columns ------------------------------------------------------------------------------------------

alter table auction.auctions
  alter column min_increment drop not null,
  alter column min_increment drop default,
  add column increment_table    jsonb,
  add column reserve_price      numeric(12,2),
  add column buy_now_price      numeric(12,2),
  add column soft_close_seconds int not null default 0,
  -- the high bidder's maximum (a proxy bid); hidden from other users, never below current_price
  add column leader_max         numeric(12,2),
  add column end_reason         text;

-- backfill rows from before this file; the guard would refuse touching ended auctions
alter table auction.auctions disable trigger auctions_before_update_guard;
update auction.auctions set leader_max = current_price where seq > 0;
update auction.auctions set end_reason = 'time' where status = 'ended';
alter table auction.auctions enable trigger auctions_before_update_guard;

alter table auction.auctions
  add constraint auctions_one_increment_rule check ((min_increment is null) <> (increment_table is null)),
  add constraint auctions_increment_table_valid
    check (increment_table is null or auction.valid_increment_table(increment_table)),
  add constraint auctions_reserve_price check (reserve_price is null or reserve_price >= starting_price),
  add constraint auctions_buy_now_price check (
    buy_now_price is null or (buy_now_price >= starting_price and buy_now_price >= coalesce(reserve_price, 0))),
  add constraint auctions_soft_close check (soft_close_seconds between 0 and 3600),
  add constraint auctions_leader_max check ((seq = 0) = (leader_max is null) and (leader_max is null or leader_max >= current_price)),
  add constraint auctions_winner_meets_reserve check (
    winner_id is null or reserve_price is null or current_price >= reserve_price),
  add constraint auctions_end_reason check (
    (end_reason is null) = (status <> 'ended') and (end_reason is null or end_reason in ('time', 'operator', 'buy_now')));

-- a bid's maximum when it was a proxy bid; kind: 'bid' (the amount was typed), 'proxy' (placed for a
-- maximum), 'buy_now'
-- Request ids are opaque keys compared byte for byte: collation "C" makes every probe and index insert on
-- bids_request_unique a memcmp (measured: about a quarter of a batched bid's database CPU under C.UTF-8).
drop view auction.bid_history;
alter table auction.bids alter column request_id type text collate "C";

alter table auction.bids
  add column max_amount numeric(12,2) check (max_amount is null or max_amount >= amount),
  add column kind text not null default 'bid' check (kind in ('bid', 'proxy', 'buy_now'));

-- The public facts of an auction, derived in one place for the service and for psql.
create function auction.min_next_bid(a auction.auctions) returns numeric
language sql stable
set search_path = auction, pg_catalog
as $$
  select case when a.seq = 0 then a.starting_price
              else a.current_price + increment_at(a.min_increment, a.increment_table, a.current_price) end;
$$;

create function auction.reserve_met(a auction.auctions) returns boolean
language sql immutable
as $$
  select a.reserve_price is null or (a.seq > 0 and a.current_price >= a.reserve_price);
$$;

-- Buy-now is offered until bidding meets the reserve (or, without a reserve, until the first bid).
create function auction.buy_now_available(a auction.auctions) returns boolean
language sql stable
set search_path = auction, pg_catalog
as $$
  select a.buy_now_price is not null and a.status in ('pending', 'active')
     and (a.seq = 0 or (a.reserve_price is not null and a.current_price < a.reserve_price))
     and a.buy_now_price >= min_next_bid(a);
$$;

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

-- Guards -----------------------------------------------------------------------------------------

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
as $$
begin
  if not exists (select 1 from bids b
                  where b.auction_id = new.id and b.seq = new.seq
                    and b.amount = new.current_price and b.user_id = new.high_bidder_id)
     or (select count(*) from bids b where b.auction_id = new.id and b.seq > old.seq and b.seq <= new.seq)
        <> new.seq - old.seq then
    raise exception 'auction % seq % has no matching bid', new.id, new.seq using errcode = 'AU004';
  end if;
  return null;
end;
$$;

-- Notifications ----------------------------------------------------------------------------------

create or replace function auction.bids_notify() returns trigger
language plpgsql
set search_path = auction, pg_catalog
as $$
begin
  perform pg_notify('auction:' || new.auction_id, json_build_object(
    'type', 'bid_placed', 'auction_id', new.auction_id, 'seq', new.seq, 'bid_id', new.id,
    'user_id', new.user_id, 'amount', new.amount::text, 'kind', new.kind,
    'reserve_met', (select a.reserve_price is null or new.amount >= a.reserve_price
                      from auctions a where a.id = new.auction_id),
    'time', new.created_at)::text);
  return null;
end;
$$;

create or replace function auction.auctions_notify_change() returns trigger
language plpgsql
set search_path = auction, pg_catalog
as $$
declare
  payload text;
begin
  if new.end_time <> old.end_time and new.status in ('pending', 'active') then
    -- an extension (soft close or operator) carries the seq before the bids that caused it
    perform pg_notify('auction:' || new.id, json_build_object(
      'type', 'auction_extended', 'auction_id', new.id, 'seq', old.seq, 'status', new.status,
      'end_time', new.end_time, 'previous_end_time', old.end_time,
      'reason', case when new.seq > old.seq then 'soft_close' else 'operator' end,
      'time', clock_timestamp())::text);
  end if;
  if new.status <> old.status then
    payload := json_build_object(
      'type', case new.status when 'active' then 'auction_started'
                              when 'ended' then 'auction_ended'
                              when 'cancelled' then 'auction_cancelled' end,
      -- the seq of the bids before this change: a first bid starts the auction, then counts as seq 1
      'auction_id', new.id, 'seq', old.seq, 'status', new.status,
      'winner_id', new.winner_id,
      'final_price', case when new.status = 'ended' and new.seq > 0 then new.current_price::text end,
      'reserve_met', case when new.status = 'ended' then reserve_met(new) end,
      'reason', coalesce(new.cancel_reason, new.end_reason), 'end_time', new.end_time,
      'time', clock_timestamp())::text;
    perform pg_notify('auction:' || new.id, payload);
    if new.status = 'ended' then
      -- seller and winner hear the result even when not subscribed to the auction
      perform pg_notify('user:' || new.creator_id, payload);
      if new.winner_id is not null then
        perform pg_notify('user:' || new.winner_id, payload);
      end if;
    end if;
  end if;
  return null;
end;
$$;

create or replace function auction.auctions_notify_created() returns trigger
language plpgsql
set search_path = auction, pg_catalog
as $$
begin
  perform pg_notify('auctions', json_build_object(
    'type', 'auction_created', 'auction_id', new.id, 'item_id', new.item_id,
    'creator_id', new.creator_id, 'start_time', new.start_time, 'end_time', new.end_time,
    'starting_price', new.starting_price::text, 'min_increment', new.min_increment::text,
    'status', new.status, 'time', clock_timestamp())::text);
  return null;
end;
$$;

-- The previous high bidder hears that they lost the lead, on their own channel.
create function auction.notify_outbid(p_user_id uuid, a auction.auctions, p_seq bigint, p_price numeric,
                                      p_min_next numeric, p_at timestamptz) returns void
language sql
as $$
  select pg_notify('user:' || p_user_id, json_build_object(
    'type', 'outbid', 'auction_id', a.id, 'seq', p_seq, 'current_price', p_price::text,
    'min_next_bid', p_min_next::text, 'time', p_at)::text);
$$;

-- Creating auctions --------------------------------------------------------------------------------

drop function auction.create_auction(uuid, uuid, timestamptz, timestamptz, numeric, numeric);

-- p_min_increment: a fixed increment; null uses p_increment_table, or eBay's steps when that is null too.
create function auction.create_auction(
  p_item_id            uuid,
  p_creator_id         uuid,
  p_start_time         timestamptz,
  p_end_time           timestamptz,
  p_starting_price     numeric,
  p_min_increment      numeric default null,
  p_increment_table    jsonb default null,
  p_reserve_price      numeric default null,
  p_buy_now_price      numeric default null,
  p_soft_close_seconds int default 0
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
  if p_start_time is null or p_end_time is null then
    raise exception 'start_time and end_time are required' using errcode = 'AU014';
  end if;
  if p_end_time <= clock_timestamp() then
    raise exception 'end_time must be in the future' using errcode = 'AU014';
  end if;
  insert into auctions (item_id, creator_id, start_time, end_time, starting_price, min_increment, increment_table,
                        reserve_price, buy_now_price, soft_close_seconds, status)
  values (p_item_id, p_creator_id, p_start_time, p_end_time, p_starting_price, p_min_increment, p_increment_table,
          p_reserve_price, p_buy_now_price, p_soft_close_seconds, 'pending')
  returning * into a;
  return a;
end;
$$;

-- Placing bids -----------------------------------------------------------------------------------

drop function auction.place_bids(uuid[], uuid[], numeric[], text[]);
drop function auction.place_bid(uuid, uuid, numeric, text);
drop function auction.earlier_outcome(uuid, uuid, numeric, text);
drop type auction.bid_outcome;

create type auction.bid_outcome as (
  accepted        boolean,
  reason          text,          -- null when accepted, else a machine-readable rejection reason
  bid_id          uuid,          -- the caller's own bid row (null when a maximum was raised without one)
  seq             bigint,
  amount          numeric(12,2), -- the caller's visible bid
  current_price   numeric(12,2), -- price after this bid (also on rejection, when the auction exists)
  min_amount      numeric(12,2), -- the lowest amount that would be accepted next
  created_at      timestamptz,
  duplicate       boolean,       -- true when request_id matched an earlier accepted bid
  is_leading boolean,       -- the caller is the high bidder after this bid
  max_amount      numeric(12,2), -- the caller's maximum, for a proxy bid
  reserve_met     boolean,
  end_time        timestamptz    -- after soft close
);

-- The judge: bids on one auction, in arrival order, under its row lock. Fills p_out at the given
-- ordinals. One guarded UPDATE writes the final state: if the auction closed meanwhile, nothing is kept.
create function auction.judge_bids(
  p_auction_id  uuid,
  p_ords        int[],
  p_user_ids    uuid[],
  p_amounts     numeric[],
  p_request_ids text[],
  p_max_amounts numeric[],
  inout p_out   auction.bid_outcome[]
)
language plpgsql
set search_path = auction, pg_catalog
as $$
declare
  a          auctions;
  o          int;
  r          bid_outcome;
  e          jsonb;
  earlier    jsonb := '{}';
  -- accepted bids of this batch by user/request id, for copies within the batch
  seen_keys  text[] := '{}';
  seen_ords  int[] := '{}';
  k          int;
  t_below    numeric[];
  t_step     numeric[];
  v_now      timestamptz;
  v_open     boolean;
  v_closed   text;
  u          uuid;
  amt        numeric;
  mx         numeric;
  top        numeric;
  rid        text;
  min_next   numeric;
  price      numeric;
  s_price    numeric;
  s_leader   uuid;
  s_max      numeric;
  s_seq      bigint;
  s_end      timestamptz;
  prev_leader uuid;
  my_id      uuid;
  my_seq     bigint;
  my_amount  numeric;
  -- rows to insert
  b_ids      uuid[] := '{}';
  b_users    uuid[] := '{}';
  b_amounts  numeric[] := '{}';
  b_seqs     bigint[] := '{}';
  b_rids     text[] := '{}';
  b_maxes    numeric[] := '{}';
  b_kinds    text[] := '{}';
  -- outbid alerts: user, seq, price, min next
  n_users    uuid[] := '{}';
  n_seqs     bigint[] := '{}';
  n_prices   numeric[] := '{}';
  n_next     numeric[] := '{}';
  accepted_ords int[] := '{}';
  i          int;
begin
  select * into a from auctions where id = p_auction_id for update;
  v_now := clock_timestamp();
  if found then
    v_open := a.status in ('pending', 'active') and a.start_time <= v_now and v_now < a.end_time;
    v_closed := case when a.status = 'cancelled' then 'cancelled'
                     when a.status = 'ended' or v_now >= a.end_time then 'ended'
                     when v_now < a.start_time then 'not_started' end;
    s_price := a.current_price; s_leader := a.high_bidder_id; s_max := a.leader_max;
    s_seq := a.seq; s_end := a.end_time;
    select array_agg((x->>'below')::numeric order by n), array_agg((x->>'step')::numeric order by n)
      into t_below, t_step
      from jsonb_array_elements(a.increment_table) with ordinality j(x, n);
    -- earlier bids with these request ids (retries), in one read
    if exists (select 1 from unnest(p_ords) x where p_request_ids[x] is not null) then
      select coalesce(jsonb_object_agg(b.user_id || '/' || b.request_id, jsonb_build_object(
               'id', b.id, 'seq', b.seq, 'amount', b.amount, 'max', b.max_amount, 'at', b.created_at)), '{}')
        into earlier
        from unnest(p_ords) x
        -- one index probe per bid (a semi-join could read every bid of a hot auction)
        cross join lateral (select * from bids y
                             where y.auction_id = p_auction_id and y.user_id = p_user_ids[x]
                               and y.request_id = p_request_ids[x]) b;
    end if;
  end if;

  foreach o in array p_ords loop
    u := p_user_ids[o]; amt := p_amounts[o]; mx := p_max_amounts[o]; rid := p_request_ids[o];
    r := row(false, null, null, null, null, null, null, null, false, false, mx, null, null);
    if a.id is not null then
      r.current_price := s_price;
      r.min_amount := case when s_seq = 0 then a.starting_price
                           else s_price + step_at(s_price, a.min_increment, t_below, t_step) end;
      r.reserve_met := a.reserve_price is null or (s_seq > 0 and s_price >= a.reserve_price);
      r.end_time := s_end;
      r.is_leading := u is not distinct from s_leader;
    end if;
    min_next := r.min_amount;
    top := coalesce(mx, amt);

    if (amt is null and mx is null)
       or (amt is not null and (amt <= 0 or amt <> round(amt, 2) or amt >= 10000000000))
       or (mx is not null and (mx <= 0 or mx <> round(mx, 2) or mx >= 10000000000)) then
      r.reason := 'invalid_amount';
    elsif mx is not null and amt is not null and mx < amt then
      r.reason := 'invalid_max_amount';
    elsif rid is not null and char_length(rid) not between 1 and 128 then
      r.reason := 'invalid_request_id';
    elsif a.id is null then
      r.reason := 'auction_not_found';
    elsif rid is not null and earlier ? (u || '/' || rid) then
      -- a retry of a committed bid: its first outcome, or a conflict when it now asks for something else
      e := earlier -> (u || '/' || rid);
      r.bid_id := (e->>'id')::uuid; r.seq := (e->>'seq')::bigint; r.amount := (e->>'amount')::numeric;
      r.created_at := (e->>'at')::timestamptz;
      if mx is distinct from (e->>'max')::numeric or (mx is null and amt <> (e->>'amount')::numeric) then
        r.reason := 'request_id_conflict';
      else
        r.accepted := true; r.duplicate := true;
      end if;
    elsif rid is not null and array_position(seen_keys, u || '/' || rid) is not null then
      -- a copy within this batch
      k := seen_ords[array_position(seen_keys, u || '/' || rid)];
      r.bid_id := (p_out[k]).bid_id; r.seq := (p_out[k]).seq; r.amount := (p_out[k]).amount; r.created_at := v_now;
      if mx is distinct from p_max_amounts[k] or (mx is null and amt <> p_amounts[k]) then
        r.reason := 'request_id_conflict';
      else
        r.accepted := true; r.duplicate := true;
        accepted_ords := accepted_ords || o;  -- turned into 'ended' with the original if the guard fails
      end if;
    elsif not v_open then
      r.reason := v_closed;
    elsif u = a.creator_id then
      r.reason := 'own_auction';
    elsif u = s_leader and mx is not null and amt is null then
      -- the leader raises their maximum: no visible bid unless it now meets the reserve
      if mx < s_max then
        r.reason := 'max_not_raised';
      elsif mx = s_max then
        r.accepted := true; r.is_leading := true; r.seq := s_seq; r.amount := s_price;  -- a retry, or no change
      else
        s_max := mx;
        r.accepted := true; r.is_leading := true;
        if a.reserve_price is not null and s_price < a.reserve_price and mx >= a.reserve_price then
          s_seq := s_seq + 1; s_price := a.reserve_price; my_id := gen_random_uuid();
          b_ids := b_ids || my_id; b_users := b_users || u; b_amounts := b_amounts || s_price;
          b_seqs := b_seqs || s_seq; b_rids := b_rids || rid; b_maxes := b_maxes || mx; b_kinds := b_kinds || 'proxy'::text;
          r.bid_id := my_id; r.seq := s_seq; r.amount := s_price;
        else
          r.seq := s_seq; r.amount := s_price;
        end if;
      end if;
    elsif top < min_next or (amt is not null and amt < min_next) then
      r.reason := 'too_low';
    else
      prev_leader := s_leader;
      price := coalesce(amt, min_next);
      if u = s_leader then
        -- the leader bids a typed amount over the current price (and keeps any higher maximum)
        s_max := greatest(s_max, top);
      elsif s_seq = 0 or top > s_max then
        -- the challenger takes the lead; a proxy leader's maximum is shown as their last bid
        if s_seq > 0 and s_max > s_price then
          s_seq := s_seq + 1;
          b_ids := b_ids || gen_random_uuid(); b_users := b_users || s_leader; b_amounts := b_amounts || s_max;
          b_seqs := b_seqs || s_seq; b_rids := b_rids || null::text; b_maxes := b_maxes || null::numeric;
          b_kinds := b_kinds || 'proxy'::text;
          price := greatest(price, least(top, s_max + step_at(s_max, a.min_increment, t_below, t_step)));
        end if;
        s_leader := u; s_max := top;
      end if;
      if a.reserve_price is not null and price < a.reserve_price and top >= a.reserve_price then
        price := a.reserve_price;
      end if;
      if u <> s_leader then
        -- the leader's maximum holds: the challenger's bid goes in at its maximum, the leader answers
        -- one increment above it (at most their maximum; equal maxima: the earlier bid leads)
        price := top;
      end if;
      s_seq := s_seq + 1; my_id := gen_random_uuid(); my_seq := s_seq; my_amount := price;
      b_ids := b_ids || my_id; b_users := b_users || u; b_amounts := b_amounts || price;
      b_seqs := b_seqs || s_seq; b_rids := b_rids || rid; b_maxes := b_maxes || mx;
      b_kinds := b_kinds || (case when amt is not null and price = amt then 'bid' else 'proxy' end);
      s_price := price;
      if u <> s_leader then
        price := least(s_max, top + step_at(top, a.min_increment, t_below, t_step));
        if a.reserve_price is not null and price < a.reserve_price and s_max >= a.reserve_price then
          price := a.reserve_price;
        end if;
        s_seq := s_seq + 1;
        b_ids := b_ids || gen_random_uuid(); b_users := b_users || s_leader; b_amounts := b_amounts || price;
        b_seqs := b_seqs || s_seq; b_rids := b_rids || null::text; b_maxes := b_maxes || null::numeric;
        b_kinds := b_kinds || 'proxy'::text;
        s_price := price;
      end if;
      if a.soft_close_seconds > 0 and s_end - v_now < make_interval(secs => a.soft_close_seconds) then
        s_end := s_end + make_interval(secs => a.soft_close_seconds);
      end if;
      r.accepted := true; r.bid_id := my_id; r.seq := my_seq; r.amount := my_amount;
      r.is_leading := u = s_leader;
      if prev_leader is not null and prev_leader <> s_leader then
        n_users := n_users || prev_leader; n_seqs := n_seqs || s_seq; n_prices := n_prices || s_price;
        n_next := n_next || (s_price + step_at(s_price, a.min_increment, t_below, t_step));
      end if;
    end if;

    if r.accepted and not r.duplicate then
      r.current_price := s_price;
      r.min_amount := s_price + step_at(s_price, a.min_increment, t_below, t_step);
      r.reserve_met := a.reserve_price is null or s_price >= a.reserve_price;
      r.end_time := s_end;
      r.created_at := v_now;
      accepted_ords := accepted_ords || o;
      if rid is not null then
        seen_keys := seen_keys || (u || '/' || rid);
        seen_ords := seen_ords || o;
      end if;
    end if;
    p_out[o] := r;
  end loop;

  if a.id is null or (s_seq = a.seq and s_max is not distinct from a.leader_max) then
    return;  -- nothing accepted
  end if;

  -- The guard: the auction is still open now that the bids are judged (the BEFORE UPDATE trigger
  -- checks the clock once more after the lock).
  update auctions
     set current_price = s_price, high_bidder_id = s_leader, leader_max = s_max, seq = s_seq,
         end_time = s_end, status = 'active', updated_at = clock_timestamp(),
         last_bid_at = case when s_seq > a.seq then clock_timestamp() else last_bid_at end
   where id = p_auction_id
     and seq = a.seq
     and status in ('pending', 'active')
     and start_time <= clock_timestamp()
     and clock_timestamp() < end_time;
  if not found then
    foreach o in array accepted_ords loop
      r := p_out[o];
      r.accepted := false; r.reason := 'ended'; r.bid_id := null; r.seq := null; r.amount := null;
      r.current_price := a.current_price; r.is_leading := false; r.created_at := null;
      p_out[o] := r;
    end loop;
    return;
  end if;

  insert into bids (id, auction_id, user_id, amount, seq, request_id, max_amount, kind, created_at, updated_at)
  select x.id, p_auction_id, x.u, x.amount, x.seq, x.rid, x.mx, x.kind, v_now, v_now
    from unnest(b_ids, b_users, b_amounts, b_seqs, b_rids, b_maxes, b_kinds) as x(id, u, amount, seq, rid, mx, kind);

  for i in 1 .. coalesce(array_length(n_users, 1), 0) loop
    perform notify_outbid(n_users[i], a, n_seqs[i], n_prices[i], n_next[i], v_now);
  end loop;
end;
$$;

-- Many bids in one transaction (group commit). NOTIFY serializes commits cluster-wide, so one commit
-- for a batch raises throughput; each bid is still judged alone. Auctions are locked in id order, so
-- batches from several instances cannot deadlock; bids on one auction keep their arrival order.
create function auction.place_bids(
  p_auction_ids uuid[],
  p_user_ids    uuid[],
  p_amounts     numeric[],
  p_request_ids text[],
  p_max_amounts numeric[] default null
) returns table (
  ord int, accepted boolean, reason text, bid_id uuid, seq bigint, amount numeric(12,2),
  current_price numeric(12,2), min_amount numeric(12,2), created_at timestamptz, duplicate boolean,
  is_leading boolean, max_amount numeric(12,2), reserve_met boolean, end_time timestamptz
)
language plpgsql
set search_path = auction, pg_catalog
as $$
declare
  n      int := coalesce(cardinality(p_auction_ids), 0);
  g      record;
  outs   bid_outcome[];
  i      int;
begin
  if coalesce(cardinality(p_user_ids), 0) <> n or coalesce(cardinality(p_amounts), 0) <> n
     or coalesce(cardinality(p_request_ids), 0) <> n
     or (p_max_amounts is not null and cardinality(p_max_amounts) <> n) then
    raise exception 'place_bids: arrays differ in length' using errcode = 'AU014';
  end if;
  outs := array_fill(null::bid_outcome, array[greatest(n, 1)]);
  for g in select x.aid, array_agg(x.o order by x.o) as ords
             from (select s as o, p_auction_ids[s] as aid from generate_subscripts(p_auction_ids, 1) s) x
            group by x.aid order by x.aid nulls last loop
    outs := judge_bids(g.aid, g.ords, p_user_ids, p_amounts, p_request_ids,
                       coalesce(p_max_amounts, array_fill(null::numeric, array[greatest(n, 1)])), outs);
  end loop;
  for i in 1 .. n loop
    ord := i;
    select (outs[i]).* into accepted, reason, bid_id, seq, amount, current_price, min_amount, created_at,
                            duplicate, is_leading, max_amount, reserve_met, end_time;
    return next;
  end loop;
end;
$$;

-- One bid: a batch of one.
create function auction.place_bid(
  p_auction_id uuid,
  p_user_id    uuid,
  p_amount     numeric,
  p_request_id text default null,
  p_max_amount numeric default null
) returns auction.bid_outcome
language sql
set search_path = auction, pg_catalog
as $$
  select row(b.accepted, b.reason, b.bid_id, b.seq, b.amount, b.current_price, b.min_amount, b.created_at,
             b.duplicate, b.is_leading, b.max_amount, b.reserve_met, b.end_time)::bid_outcome
    from place_bids(array[p_auction_id], array[p_user_id], array[p_amount], array[p_request_id],
                    array[p_max_amount]) b;
$$;

comment on function auction.place_bid(uuid, uuid, numeric, text, numeric) is
  'Places a bid (p_amount), a proxy bid (p_max_amount), or both. Returns accepted or a rejection reason: auction_not_found, not_started, ended, cancelled, too_low, own_auction, invalid_amount, invalid_max_amount, max_not_raised, invalid_request_id, request_id_conflict.';

-- Buy-now ------------------------------------------------------------------------------------------

-- Ends the auction at its buy-now price for this user. Idempotent by request id like place_bid.
create function auction.buy_now(p_auction_id uuid, p_user_id uuid, p_request_id text default null)
returns auction.bid_outcome
language plpgsql
set search_path = auction, pg_catalog
as $$
declare
  a      auctions;
  r      bid_outcome;
  b      bids;
  v_now  timestamptz;
begin
  if p_request_id is not null and char_length(p_request_id) not between 1 and 128 then
    raise exception 'request_id must be 1 to 128 characters' using errcode = 'AU014';
  end if;
  select * into a from auctions where id = p_auction_id for update;
  if not found then
    raise exception 'auction % not found', p_auction_id using errcode = 'AU010';
  end if;
  if p_request_id is not null then
    select * into b from bids where auction_id = p_auction_id and user_id = p_user_id and request_id = p_request_id;
    if found then
      if b.kind <> 'buy_now' then
        raise exception 'this request_id was already used for a bid' using errcode = 'AU014';
      end if;
      return row(true, null, b.id, b.seq, b.amount, a.current_price, null, b.created_at, true,
                 a.winner_id = p_user_id, null, reserve_met(a), a.end_time)::bid_outcome;
    end if;
  end if;
  v_now := clock_timestamp();
  if a.status = 'cancelled' then
    raise exception 'auction % was cancelled', p_auction_id using errcode = 'AU012';
  elsif a.status = 'ended' or v_now >= a.end_time then
    raise exception 'auction % already ended', p_auction_id using errcode = 'AU011';
  elsif v_now < a.start_time then
    raise exception 'auction % has not started', p_auction_id using errcode = 'AU013';
  elsif a.creator_id = p_user_id then
    raise exception 'you cannot buy your own auction' using errcode = 'AU015';
  elsif not buy_now_available(a) then
    raise exception 'buy-now is not available on auction %', p_auction_id using errcode = 'AU015';
  end if;

  -- the bid first, so subscribers hear it before the end (the seq checks run at commit)
  insert into bids (auction_id, user_id, amount, seq, request_id, kind, created_at, updated_at)
  values (p_auction_id, p_user_id, a.buy_now_price, a.seq + 1, p_request_id, 'buy_now', v_now, v_now)
  returning * into b;
  update auctions
     set current_price = buy_now_price, high_bidder_id = p_user_id, leader_max = buy_now_price, seq = seq + 1,
         status = 'ended', end_reason = 'buy_now', ended_at = clock_timestamp(),
         last_bid_at = clock_timestamp(), updated_at = clock_timestamp()
   where id = p_auction_id and seq = a.seq and status in ('pending', 'active') and clock_timestamp() < end_time
  returning * into a;
  if not found then
    raise exception 'auction % already ended', p_auction_id using errcode = 'AU011';
  end if;
  if a.seq > 1 then
    perform notify_outbid(x.user_id, a, a.seq, a.current_price, a.current_price, v_now)
       from bids x where x.auction_id = a.id and x.seq = a.seq - 1 and x.user_id <> p_user_id;
  end if;
  return row(true, null, b.id, b.seq, b.amount, a.current_price, null, b.created_at, false, true, null,
             true, a.end_time)::bid_outcome;
end;
$$;

-- Views for operators: what psql users see, with the derived facts.
create or replace view auction.live_auctions as
select a.id, i.name as item, a.status, a.current_price, a.seq as bids, a.high_bidder_id,
       hb.name as high_bidder, a.start_time, a.end_time,
       greatest(a.end_time - clock_timestamp(), interval '0') as time_left,
       auction.min_next_bid(a) as min_next_bid, auction.reserve_met(a) as reserve_met,
       a.leader_max, auction.buy_now_available(a) as buy_now_available
  from auction.auctions a
  join auction.items i on i.id = a.item_id
  left join auction.users hb on hb.id = a.high_bidder_id
 where a.status in ('pending', 'active')
 order by a.end_time;

create view auction.bid_history as
select b.auction_id, b.seq, b.amount, b.user_id, u.name as bidder, b.created_at, b.request_id, b.id as bid_id,
       b.kind, b.max_amount
  from auction.bids b
  join auction.users u on u.id = b.user_id;

-- An auction with its derived public facts: what the service reads and sends.
create view auction.auction_facts as
select a.*, auction.min_next_bid(a) as min_next_bid, auction.reserve_met(a) as reserve_met,
       auction.buy_now_available(a) as buy_now_available
  from auction.auctions a;
