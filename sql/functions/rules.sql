-- The bidding rules as pure functions: increments, the next minimum bid, the reserve, buy-now.
-- Applied after the migrations and again whenever it changes: each definition is whole, with its SET clauses
-- (docs/sql-conventions.md).

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

-- The increment at a price: the fixed one when set, else the table's step for that price.
create or replace function auction.increment_at(p_fixed numeric, p_table jsonb, p_price numeric) returns numeric
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
create or replace function auction.step_at(p_price numeric, p_fixed numeric, p_below numeric[], p_step numeric[]) returns numeric
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

-- The public facts of an auction, derived in one place for the service and for psql.
create or replace function auction.min_next_bid(a auction.auctions) returns numeric
language sql stable
set search_path = auction, pg_catalog
as $$
  select case when a.seq = 0 then a.starting_price
              else a.current_price + increment_at(a.min_increment, a.increment_table, a.current_price) end;
$$;

create or replace function auction.reserve_met(a auction.auctions) returns boolean
language sql immutable
as $$
  select a.reserve_price is null or (a.seq > 0 and a.current_price >= a.reserve_price);
$$;

-- Buy-now is offered until bidding meets the reserve (or, without a reserve, until the first bid).
create or replace function auction.buy_now_available(a auction.auctions) returns boolean
language sql stable
set search_path = auction, pg_catalog
as $$
  select a.buy_now_price is not null and a.status in ('pending', 'active')
     and (a.seq = 0 or (a.reserve_price is not null and a.current_price < a.reserve_price))
     and a.buy_now_price >= min_next_bid(a);
$$;
