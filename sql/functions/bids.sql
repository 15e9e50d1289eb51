-- Placing bids: place_bids judges a batch (judge_bids, one auction at a time under its row lock) and
-- writes it with one guarded UPDATE and one INSERT (write_judged); place_bid is a batch of one; buy_now
-- ends an auction at its buy-now price. The rules themselves are in rules.sql (docs/bidding-rules.md).
-- place_bids, place_bid and buy_now are security definer: the service role may call them but not write the
-- tables (docs/admin.md, "Database roles").
-- Applied after the migrations and again whenever it changes: each definition is whole, with its SET clauses
-- (docs/sql-conventions.md).
--
-- Every statement here finds its rows by an indexed key, so these functions carry enable_seqscan = off: a
-- generic plan made while bids was nearly empty would otherwise scan it for the session's life (measured:
-- the commit-time check went from 11 µs to 577 µs per call). Those over unnest() of array parameters also
-- keep their generic plan (plan_cache_mode): the planner costs it (ten rows per unnest) above a custom one,
-- and re-planned at every call (measured: 1,408 single bids/s with one connection instead of 909).

-- Accepted requests among these bids, by user/request id, with the outcome a retry gets again. One index
-- probe per bid: `limit 1` keeps the planner from turning the lateral into a hash join that reads every bid
-- of the auction (measured: 7 ms per batch on a hot auction of 10k bids). Inlined into judge_bids' query.
create or replace function auction.committed_requests(p_auction_id uuid, p_ords int[], p_user_ids uuid[], p_request_ids text[])
returns table (key text, first auction.bid_outcome)
language sql stable
as $$
  select b.user_id || '/' || b.request_id,
         row(true, null, b.id, b.seq, b.amount, null, null, b.created_at, true, null, b.max_amount, null, null)::auction.bid_outcome
    from unnest(p_ords) o
    cross join lateral (select * from auction.bids y where y.auction_id = p_auction_id and y.user_id = p_user_ids[o]
                           and y.request_id = p_request_ids[o] limit 1) b;
$$;

-- The bid rows an accepted ladder step writes, numbered on from the auction's seq: the outbid leader's
-- maximum, the bid's own row, the leader's answer (each when there is one; never the first and the last).
-- SQL, so that judge_bids' expression inlines it.
create or replace function auction.step_rows(a auction.auctions, step auction.ladder_step, p_user uuid,
                                             p_request_id text, p_max numeric, p_at timestamptz)
returns auction.bid_write[]
language sql volatile
as $$
  select array_remove(array[
    case when step.shown_max is not null
      then row(gen_random_uuid(), a.id, a.high_bidder_id, step.shown_max, a.seq + 1, null, null, 'proxy', p_at)::auction.bid_write end,
    case when step.amount is not null
      then row(gen_random_uuid(), a.id, p_user, step.amount, a.seq + 1 + (step.shown_max is not null)::int, p_request_id,
               p_max, step.kind, p_at)::auction.bid_write end,
    case when step.answer is not null
      then row(gen_random_uuid(), a.id, step.leader, step.answer, a.seq + 2, null, null, 'proxy', p_at)::auction.bid_write end
  ], null);
$$;

-- The judge: the bids on one auction, in arrival order, under its row lock. Each well-formed bid is a
-- retry of an accepted request, refused because the auction is closed or the bidder's own, or goes up the
-- proxy ladder (rules.sql); an accepted one writes its rows and moves the auction on for the next.
create or replace function auction.judge_bids(
  p_auction_id  uuid,
  p_ords        int[],        -- this auction's bids, as positions in the arrays below
  p_user_ids    uuid[],
  p_amounts     numeric[],
  p_request_ids text[],
  p_max_amounts numeric[]
) returns auction.judged
language plpgsql
set search_path = auction, pg_catalog
set enable_seqscan = off
set plan_cache_mode = force_generic_plan
as $$
declare
  a       auctions;           -- the auction, moved on by each accepted bid
  before  auctions;
  inc     increments;
  at      timestamptz;        -- the judge's clock: the batch's bids are stamped with it
  closed  text;
  keys    text[];             -- accepted requests (user/request id): the committed ones, then this batch's
  firsts  bid_outcome[];      -- and their outcomes, which a retry or a copy gets again
  n_committed int;
  j       judged := row('{}', null, '{}', '{}', '{}');
  r       bid_outcome;
  step    ladder_step;
  written bid_write[];
  mine    bid_write;          -- the bid's own row (none when a raised maximum shows no bid)
  prev    uuid;
  o       int;
  k       int;
begin
  select * into a from auctions where id = p_auction_id for update;
  before := a; at := clock_timestamp(); closed := closed_reason(a, at); inc := increments_of(a.min_increment, a.increment_table);
  select array_agg(c.key), array_agg(c.first) into keys, firsts from committed_requests(a.id, p_ords, p_user_ids, p_request_ids) c;
  n_committed := coalesce(cardinality(keys), 0);

  foreach o in array p_ords loop
    r := outcome_as_it_stands(a, inc, p_user_ids[o], p_max_amounts[o]);
    r.reason := coalesce(malformed_bid(p_amounts[o], p_max_amounts[o], p_request_ids[o]),
                         case when a.id is null then 'auction_not_found' end);
    k := case when r.reason is null then array_position(keys, p_user_ids[o] || '/' || p_request_ids[o]) end;
    if k is not null then
      r := replayed(r, firsts[k], p_amounts[o], p_max_amounts[o]);
      if r.accepted and k > n_committed then
        j.accepted := j.accepted || o;  -- a copy within this batch: ended with its original if the write fails
      end if;
      j.outs := j.outs || r;
      continue;
    end if;
    r.reason := coalesce(r.reason, closed, case when p_user_ids[o] = a.creator_id then 'own_auction' end);
    if r.reason is null then
      step := proxy_ladder(a, inc, at, p_user_ids[o], p_amounts[o], p_max_amounts[o]);
      r.reason := step.reason;
    end if;
    if r.reason is null then
      -- accepted: its rows, then the auction moves on; whoever lost the lead hears so
      written := step_rows(a, step, p_user_ids[o], p_request_ids[o], p_max_amounts[o], at);
      mine := written[1 + (step.shown_max is not null)::int];  -- its own row follows the outbid leader's maximum
      j.bids := j.bids || written;
      prev := a.high_bidder_id;
      a.seq := a.seq + cardinality(written); a.high_bidder_id := step.leader; a.leader_max := step.leader_max;
      a.current_price := step.price; a.end_time := step.end_time;
      if prev <> a.high_bidder_id then
        j.alerts := j.alerts || row(a.id, prev, a.seq, a.current_price, next_minimum(a, inc), at)::outbid_write;
      end if;
      r := outcome_as_it_stands(a, inc, p_user_ids[o], p_max_amounts[o]);
      r.accepted := true; r.created_at := at;
      r.bid_id := mine.id; r.seq := coalesce(mine.seq, a.seq); r.amount := coalesce(mine.amount, a.current_price);
      j.accepted := j.accepted || o;
      if p_request_ids[o] is not null then
        keys := keys || (p_user_ids[o] || '/' || p_request_ids[o]); firsts := firsts || r;
      end if;
    end if;
    j.outs := j.outs || r;
  end loop;

  if a.seq <> before.seq or a.leader_max is distinct from before.leader_max then
    j.write := row(a.id, before.seq, before.current_price, a.current_price, a.high_bidder_id, a.leader_max, a.seq,
                   a.end_time)::auction_write;
  end if;
  return j;
end;
$$;

-- Writes what judge_bids decided for a batch: one guarded UPDATE for every auction it changes, one INSERT
-- for every bid row, then the outbid notices. Returns the auctions written: one that closed meanwhile (the
-- guard failed) keeps nothing.
create or replace function auction.write_judged(p_writes auction.auction_write[], p_bids auction.bid_write[],
                                                p_alerts auction.outbid_write[])
returns uuid[]
language plpgsql
set search_path = auction, pg_catalog
set enable_seqscan = off
set plan_cache_mode = force_generic_plan
as $$
declare
  passed uuid[];
begin
  -- The guard, for every auction at once: still open now that the bids are judged, at the seq read under
  -- the lock (the BEFORE UPDATE trigger checks the clock once more, and skips a late row).
  with done as (
    update auctions a
       set current_price = u.price, high_bidder_id = u.leader, leader_max = u.mx, seq = u.seq,
           end_time = u.end_time, status = 'active', updated_at = clock_timestamp(),
           last_bid_at = case when u.seq > u.old_seq then clock_timestamp() else a.last_bid_at end
      from unnest(p_writes) as u
     where a.id = u.id
       and a.seq = u.old_seq
       and a.status in ('pending', 'active')
       and a.start_time <= clock_timestamp()
       and clock_timestamp() < a.end_time
    returning a.id)
  select coalesce(array_agg(done.id), '{}') into passed from done;

  insert into bids (id, auction_id, user_id, amount, seq, request_id, max_amount, kind, created_at, updated_at)
  select x.id, x.auction_id, x.user_id, x.amount, x.seq, x.request_id, x.max_amount, x.kind, x.created_at, x.created_at
    from unnest(p_bids) with ordinality as x
   where x.auction_id = any(passed)
   order by x.ordinality;

  perform notify_outbid(x.user_id, x.auction_id, x.seq, x.price, x.min_next, x.at)
     from unnest(p_alerts) with ordinality as x
    where x.auction_id = any(passed)
    order by x.ordinality;
  return passed;
end;
$$;

-- Many bids in one transaction (group commit): NOTIFY serializes commits cluster-wide, so one commit for a
-- batch raises throughput; each bid is still judged alone. Auctions are locked in id order (judge_bids,
-- one at a time), so batches from several instances cannot deadlock; bids on one auction keep their
-- arrival order.
create or replace function auction.place_bids(
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
security definer
set search_path = auction, pg_catalog, pg_temp
set enable_seqscan = off
set plan_cache_mode = force_generic_plan
as $$
declare
  n        int := coalesce(cardinality(p_auction_ids), 0);
  maxes    numeric[] := coalesce(p_max_amounts, array_fill(null::numeric, array[n]));
  g        record;
  j        judged;
  outs     bid_outcome[] := array_fill(null::bid_outcome, array[n]);
  writes   auction_write[] := '{}';
  bid_rows bid_write[] := '{}';
  alerts   outbid_write[] := '{}';
  acc_ords int[] := '{}';         -- bids accepted in this batch,
  acc_of   uuid[] := '{}';        -- and the auction of each
  passed   uuid[];
  r        bid_outcome;
  i        int;
begin
  if coalesce(cardinality(p_user_ids), 0) <> n or coalesce(cardinality(p_amounts), 0) <> n
     or coalesce(cardinality(p_request_ids), 0) <> n or cardinality(maxes) <> n then
    raise exception 'place_bids: arrays differ in length' using errcode = 'AU014';
  end if;
  for g in select x.aid, array_agg(x.o order by x.o) as ords
             from (select s as o, p_auction_ids[s] as aid from generate_subscripts(p_auction_ids, 1) s) x
            group by x.aid order by x.aid nulls last loop
    j := judge_bids(g.aid, g.ords, p_user_ids, p_amounts, p_request_ids, maxes);
    for i in 1 .. cardinality(g.ords) loop
      outs[g.ords[i]] := j.outs[i];
    end loop;
    if (j.write).id is not null then  -- the auction changed
      writes := writes || j.write; bid_rows := bid_rows || j.bids; alerts := alerts || j.alerts;
      acc_ords := acc_ords || j.accepted; acc_of := acc_of || array_fill(g.aid, array[cardinality(j.accepted)]);
    end if;
  end loop;

  if cardinality(writes) > 0 then
    passed := write_judged(writes, bid_rows, alerts);
    -- an auction that closed meanwhile keeps nothing: its accepted bids are reported ended
    for i in 1 .. cardinality(acc_ords) loop
      if not (acc_of[i] = any(passed)) then
        r := outs[acc_ords[i]];
        r.accepted := false; r.reason := 'ended'; r.bid_id := null; r.seq := null; r.amount := null; r.created_at := null;
        r.current_price := (select u.old_price from unnest(writes) u where u.id = acc_of[i]); r.is_leading := false;
        outs[acc_ords[i]] := r;
      end if;
    end loop;
  end if;

  return query select x.ordinality::int, x.accepted, x.reason, x.bid_id, x.seq, x.amount, x.current_price, x.min_amount,
                      x.created_at, x.duplicate, x.is_leading, x.max_amount, x.reserve_met, x.end_time
                 from unnest(outs) with ordinality as x;
end;
$$;

-- One bid: a batch of one.
create or replace function auction.place_bid(
  p_auction_id uuid,
  p_user_id    uuid,
  p_amount     numeric,
  p_request_id text default null,
  p_max_amount numeric default null
) returns auction.bid_outcome
language sql
security definer
set search_path = auction, pg_catalog, pg_temp
as $$
  select row(b.accepted, b.reason, b.bid_id, b.seq, b.amount, b.current_price, b.min_amount, b.created_at,
             b.duplicate, b.is_leading, b.max_amount, b.reserve_met, b.end_time)::bid_outcome
    from place_bids(array[p_auction_id], array[p_user_id], array[p_amount], array[p_request_id],
                    array[p_max_amount]) b;
$$;

comment on function auction.place_bid(uuid, uuid, numeric, text, numeric) is
  'Places a bid (p_amount), a proxy bid (p_max_amount), or both. Returns accepted or a rejection reason: auction_not_found, not_started, ended, cancelled, too_low, price_limit, own_auction, invalid_amount, invalid_max_amount, max_not_raised, invalid_request_id, request_id_conflict.';

-- Ends the auction at its buy-now price for this user. Idempotent by request id like place_bid.
create or replace function auction.buy_now(p_auction_id uuid, p_user_id uuid, p_request_id text default null)
returns auction.bid_outcome
language plpgsql
security definer
set search_path = auction, pg_catalog, pg_temp
set enable_seqscan = off
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
  case closed_reason(a, v_now)
    when 'cancelled' then raise exception 'auction % was cancelled', p_auction_id using errcode = 'AU012';
    when 'ended' then raise exception 'auction % already ended', p_auction_id using errcode = 'AU011';
    when 'not_started' then raise exception 'auction % has not started', p_auction_id using errcode = 'AU013';
    else null;  -- open
  end case;
  if a.creator_id = p_user_id then
    raise exception 'you cannot buy your own auction' using errcode = 'AU015';
  elsif not buy_now_available(a) then
    raise exception 'buy-now is not available on auction %', p_auction_id using errcode = 'AU015';
  end if;

  -- the bid first, so subscribers hear it before the end (the seq checks run at commit); the guard moves
  -- end_time back to just after the bid, as end_auction moves it to now
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
    perform notify_outbid(x.user_id, a.id, a.seq, a.current_price, a.current_price, v_now)
       from bids x where x.auction_id = a.id and x.seq = a.seq - 1 and x.user_id <> p_user_id;
  end if;
  return row(true, null, b.id, b.seq, b.amount, a.current_price, null, b.created_at, false, true, null,
             true, a.end_time)::bid_outcome;
end;
$$;
