-- The bidding rules, as pure functions of an auction row and one bid: no locks, no clock of their own (the
-- caller passes the time). judge_bids (bids.sql) applies them to a batch under the row lock, the views and
-- the service read the public facts, and test/sql/rules.test.ts calls them with literal auctions.
-- The SQL ones carry no SET clause, which would stop the planner from inlining them into the caller's
-- expression (measured: inlined, they cost nothing per call); they name everything with its schema.
-- Applied after the migrations and again whenever it changes: each definition is whole, with its SET clauses
-- (docs/sql-conventions.md).

-- Increments -------------------------------------------------------------------------------------

-- eBay's steps: the increment that applies while the price is below `below`; the last step has no bound.
create or replace function auction.default_increment_table() returns jsonb
language sql immutable parallel safe
as $$
  select '[{"below":1,"step":0.05},{"below":5,"step":0.25},{"below":25,"step":0.50},{"below":100,"step":1.00},
           {"below":250,"step":2.50},{"below":500,"step":5.00},{"below":1000,"step":10.00},
           {"below":2500,"step":25.00},{"below":5000,"step":50.00},{"step":100.00}]'::jsonb;
$$;

-- 1 to 50 steps, `below` strictly rising, only the last one unbounded; steps positive with two decimals.
create or replace function auction.valid_increment_table(p jsonb) returns boolean
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

-- An increment rule unpacked for increment_at, once per auction: the fixed increment, or the table as arrays
-- (reading the jsonb table at every lookup would cost about 20 µs).
create or replace function auction.increments_of(p_fixed numeric, p_table jsonb) returns auction.increments
language plpgsql immutable parallel safe
as $$
declare
  inc auction.increments := row(p_fixed, null, null);
begin
  if p_table is not null then
    select array_agg((s->>'below')::numeric order by n) filter (where s ? 'below'), array_agg((s->>'step')::numeric order by n)
      into inc.below, inc.steps
      from jsonb_array_elements(p_table) with ordinality e(s, n);
  end if;
  return inc;
end;
$$;

-- The increment at a price: the fixed one, else the step of the first bracket the price is below. The
-- bounds rise (valid_increment_table), so the bracket is one more than the bounds at or under the price.
create or replace function auction.increment_at(inc auction.increments, p_price numeric) returns numeric
language sql immutable parallel safe
as $$
  select coalesce(inc.fixed, inc.steps[coalesce(width_bucket(p_price, inc.below), 0) + 1]);
$$;

-- The largest amount numeric(12,2) stores, so the largest a bid, a price or a next minimum may be.
create or replace function auction.max_amount() returns numeric
language sql immutable parallel safe
as $$
  select 9999999999.99::numeric;
$$;

-- The lowest amount the next bid may carry: the starting price for the first bid, then the price plus the
-- increment at that price, but never above the largest amount: near it the next bid may go to the top, and
-- once the price is there no bid is taken (proxy_ladder: price_limit).
create or replace function auction.next_minimum(a auction.auctions, inc auction.increments) returns numeric
language sql immutable parallel safe
as $$
  select case when a.seq = 0 then a.starting_price
              else least(a.current_price + auction.increment_at(inc, a.current_price), auction.max_amount()) end;
$$;

-- Public facts -----------------------------------------------------------------------------------

-- The public facts of an auction, derived in one place for the service and for psql (auction_facts).
create or replace function auction.min_next_bid(a auction.auctions) returns numeric
language sql immutable parallel safe
as $$
  select auction.next_minimum(a, auction.increments_of(a.min_increment, a.increment_table));
$$;

create or replace function auction.reserve_met(a auction.auctions) returns boolean
language sql immutable parallel safe
as $$
  select a.reserve_price is null or (a.seq > 0 and a.current_price >= a.reserve_price);
$$;

-- Buy-now is offered until bidding meets the reserve (or, without a reserve, until the first bid).
create or replace function auction.buy_now_available(a auction.auctions) returns boolean
language sql immutable parallel safe
as $$
  select a.buy_now_price is not null and a.status in ('pending', 'active')
     and (a.seq = 0 or (a.reserve_price is not null and a.current_price < a.reserve_price))
     and a.buy_now_price >= auction.min_next_bid(a);
$$;

-- The auction right after the bid with `p_seq` and `p_amount` (each accepted bid sets the price), judged by
-- the same functions as auction.auction_facts, so a bid event and a snapshot never disagree.
create or replace function auction.bid_facts(a auction.auctions, p_seq bigint, p_amount numeric, p_kind text,
                                  out min_next_bid numeric, out buy_now_available boolean)
language plpgsql stable
set search_path = auction, pg_catalog
as $$
begin
  -- fields of a row variable cost nothing to set; the rules then read it like any auction
  a.seq := p_seq;
  a.current_price := p_amount;
  if p_kind = 'buy_now' then
    a.status := 'ended'; -- a buy-now ends the auction; any other accepted bid leaves it open
  end if;
  min_next_bid := auction.min_next_bid(a);
  buy_now_available := auction.buy_now_available(a);
end;
$$;

-- Judging a bid ----------------------------------------------------------------------------------
-- In the order judge_bids asks: is the bid well formed, is the auction open to this bidder, is it a retry,
-- then the proxy ladder.

-- Money a bid may carry: positive, whole cents, at most the largest amount (numeric(12,2)).
create or replace function auction.valid_amount(p numeric) returns boolean
language sql immutable parallel safe
as $$
  select p > 0 and p = round(p, 2) and p <= auction.max_amount();
$$;

-- Why a bid cannot be judged whatever the auction, or null when it is well formed: no amount and no maximum,
-- a malformed one, a maximum below the amount, a request id of the wrong length.
create or replace function auction.malformed_bid(p_amount numeric, p_max numeric, p_request_id text) returns text
language sql immutable parallel safe
as $$
  select case
    when p_amount is null and p_max is null or not auction.valid_amount(p_amount) or not auction.valid_amount(p_max)
      then 'invalid_amount'
    when p_max < p_amount then 'invalid_max_amount'
    when char_length(p_request_id) not between 1 and 128 then 'invalid_request_id'
  end;
$$;

-- Why an auction takes no bid at this time, or null while it is open: cancelled, ended (also once its end
-- time has passed, before the end job runs), not_started. judge_bids reports it; buy_now raises it.
create or replace function auction.closed_reason(a auction.auctions, p_at timestamptz) returns text
language sql immutable parallel safe
as $$
  select case when a.status = 'cancelled' then 'cancelled'
              when a.status = 'ended' or p_at >= a.end_time then 'ended'
              when p_at < a.start_time then 'not_started' end;
$$;

-- What a bid is told about the auction as it stands: before it is judged (not accepted, no reason yet), and,
-- once accepted, with the auction it left. Only the maximum when there is no auction.
create or replace function auction.outcome_as_it_stands(a auction.auctions, inc auction.increments, p_user uuid, p_max numeric)
returns auction.bid_outcome
language sql immutable parallel safe
as $$
  select case when a.id is null
    then row(false, null, null, null, null, null, null, null, false, false, p_max, null, null)::auction.bid_outcome
    else row(false, null, null, null, null,                               -- accepted, reason, bid_id, seq, amount
             a.current_price, auction.next_minimum(a, inc), null,          -- current_price, min_amount, created_at
             false, p_user is not distinct from a.high_bidder_id, p_max,   -- duplicate, is_leading, max_amount
             auction.reserve_met(a), a.end_time)::auction.bid_outcome      -- reserve_met, end_time
  end;
$$;

-- A retry of an accepted request (same user, same request id): its first outcome again, on the auction as
-- it stands; request_id_conflict when it now asks for something else (another maximum, or amount).
create or replace function auction.replayed(r auction.bid_outcome, p_first auction.bid_outcome, p_amount numeric, p_max numeric)
returns auction.bid_outcome
language plpgsql immutable parallel safe
as $$
begin
  r.bid_id := p_first.bid_id; r.seq := p_first.seq; r.amount := p_first.amount; r.created_at := p_first.created_at;
  if p_max is distinct from p_first.max_amount or (p_max is null and p_amount <> p_first.amount) then
    r.reason := 'request_id_conflict';
  else
    r.accepted := true; r.duplicate := true;
  end if;
  return r;
end;
$$;

-- A price below the reserve rises to it when the bid behind it may go that far (p_up_to: its maximum).
create or replace function auction.lifted_to_reserve(a auction.auctions, p_price numeric, p_up_to numeric) returns numeric
language sql immutable parallel safe
as $$
  select case when a.reserve_price is not null and p_price < a.reserve_price and p_up_to >= a.reserve_price
              then a.reserve_price else p_price end;
$$;

-- Soft close: a bid in the last soft_close_seconds moves the end that much later. Stable, not immutable,
-- only because Postgres marks timestamptz arithmetic so (an immutable function would not be inlined).
create or replace function auction.soft_close_end(a auction.auctions, p_at timestamptz) returns timestamptz
language sql stable parallel safe
as $$
  select case when a.soft_close_seconds > 0 and a.end_time - p_at < make_interval(secs => a.soft_close_seconds)
              then a.end_time + make_interval(secs => a.soft_close_seconds) else a.end_time end;
$$;

-- The leader raises their maximum (a maximum and no amount): no visible bid, unless the new maximum reaches
-- a reserve the price is still below, which puts a proxy bid at the reserve. A lower maximum than the one
-- they hold is refused; the same one changes nothing. No soft close: the lead did not change hands.
create or replace function auction.raised_max(a auction.auctions, p_max numeric) returns auction.ladder_step
language sql immutable parallel safe
as $$
  select case when p_max < a.leader_max
    then row('max_not_raised', null, null, null, null, a.high_bidder_id, a.leader_max, a.current_price,
             a.end_time)::auction.ladder_step
    else row(null, null, nullif(auction.lifted_to_reserve(a, a.current_price, p_max), a.current_price), 'proxy', null,
             a.high_bidder_id, p_max, auction.lifted_to_reserve(a, a.current_price, p_max), a.end_time)::auction.ladder_step
  end;
$$;

-- The proxy ladder, eBay style, for one well-formed bid on an open auction (an amount, a maximum, or both):
-- refused at the price limit (the price is the largest amount, so no bid can rise above it) or below the
-- next minimum; else the rows it writes and who leads after it, at what price.
create or replace function auction.proxy_ladder(a auction.auctions, inc auction.increments, p_at timestamptz,
                                                p_user uuid, p_amount numeric, p_max numeric)
returns auction.ladder_step
language plpgsql stable parallel safe
as $$
declare
  top      numeric := coalesce(p_max, p_amount);  -- the most this bid may go to
  min_next numeric := auction.next_minimum(a, inc);
  x        auction.ladder_step;
begin
  if p_user = a.high_bidder_id and p_amount is null then
    return auction.raised_max(a, p_max);
  elsif a.seq > 0 and a.current_price >= auction.max_amount() then
    x.reason := 'price_limit';
    return x;
  elsif top < min_next or p_amount < min_next then
    x.reason := 'too_low';
    return x;
  end if;
  x.leader := a.high_bidder_id; x.leader_max := a.leader_max;
  if p_user = a.high_bidder_id then
    -- the leader bids a typed amount over the current price (and keeps any higher maximum)
    x.amount := auction.lifted_to_reserve(a, p_amount, top);
    x.leader_max := greatest(a.leader_max, top);
  elsif a.seq = 0 or top > a.leader_max then
    -- the challenger takes the lead; a proxy leader's maximum is shown as their last bid
    x.amount := coalesce(p_amount, min_next);
    if a.seq > 0 and a.leader_max > a.current_price then
      x.shown_max := a.leader_max;
      x.amount := greatest(x.amount, least(top, a.leader_max + auction.increment_at(inc, a.leader_max)));
    end if;
    x.amount := auction.lifted_to_reserve(a, x.amount, top);
    x.leader := p_user; x.leader_max := top;
  else
    -- the leader's maximum holds: the challenger's bid goes in at its maximum, the leader answers one
    -- increment above it (at most their maximum; equal maxima: the earlier bid leads)
    x.amount := top;
    x.answer := auction.lifted_to_reserve(a, least(a.leader_max, top + auction.increment_at(inc, top)), a.leader_max);
  end if;
  x.kind := case when x.amount = p_amount then 'bid' else 'proxy' end;
  x.price := coalesce(x.answer, x.amount);
  x.end_time := auction.soft_close_end(a, p_at);
  return x;
end;
$$;
