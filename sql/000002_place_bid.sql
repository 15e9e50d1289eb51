-- place_bid: the only way a bid is accepted. One guarded UPDATE decides; see docs/error_codes.md for reasons.

create type auction.bid_outcome as (
  accepted        boolean,
  reason          text,          -- null when accepted, else a machine-readable rejection reason
  bid_id          uuid,
  seq             bigint,
  amount          numeric(12,2),
  current_price   numeric(12,2), -- price after this call (also on rejection, when the auction exists)
  min_amount      numeric(12,2), -- the lowest amount that would be accepted next
  created_at      timestamptz,
  duplicate       boolean        -- true when request_id matched an earlier accepted bid
);

-- The outcome of an accepted bid with this request id, or a row of nulls when there is none.
create function auction.earlier_outcome(
  p_auction_id uuid, p_user_id uuid, p_amount numeric, p_request_id text
) returns auction.bid_outcome
language sql stable
set search_path = auction, pg_catalog
as $$
  select case when b.amount = p_amount then true else false end,
         case when b.amount = p_amount then null else 'request_id_conflict' end,
         b.id, b.seq, b.amount, a.current_price,
         case when a.seq = 0 then a.starting_price else a.current_price + a.min_increment end,
         b.created_at, b.amount = p_amount
    from auction.bids b
    join auction.auctions a on a.id = b.auction_id
   where b.auction_id = p_auction_id and b.user_id = p_user_id and b.request_id = p_request_id;
$$;

create function auction.place_bid(
  p_auction_id uuid,
  p_user_id    uuid,
  p_amount     numeric,
  p_request_id text default null
) returns auction.bid_outcome
language plpgsql
set search_path = auction, pg_catalog
as $$
declare
  r        auction.bid_outcome;
  cur      auction.auctions%rowtype;
  v_now    timestamptz;
  attempt  int := 0;
begin
  r.accepted := false;
  r.duplicate := false;

  if p_amount is null or p_amount <= 0 or p_amount <> round(p_amount, 2) or p_amount >= 10000000000 then
    r.reason := 'invalid_amount';
    return r;
  end if;
  if p_request_id is not null and char_length(p_request_id) not between 1 and 128 then
    r.reason := 'invalid_request_id';
    return r;
  end if;

  loop
    attempt := attempt + 1;

    -- A retried request returns its first outcome instead of bidding twice.
    if p_request_id is not null then
      r := auction.earlier_outcome(p_auction_id, p_user_id, p_amount, p_request_id);
      if r.accepted is not null then
        return r;
      end if;
      r := row(false, null, null, null, null, null, null, null, false);
    end if;

    -- The guard. clock_timestamp(), not now(), which is frozen at transaction start. A bid that queued
    -- on the row lock is checked again once the lock is granted, by auctions_before_update_guard
    -- (which also stamps last_bid_at). A due pending auction becomes active here.
    update auctions a
       set current_price  = p_amount,
           high_bidder_id = p_user_id,
           seq            = a.seq + 1,
           status         = 'active',
           last_bid_at    = clock_timestamp(),
           updated_at     = clock_timestamp()
     where a.id = p_auction_id
       and a.status in ('pending', 'active')
       and a.start_time <= clock_timestamp()
       and clock_timestamp() < a.end_time
       and a.creator_id <> p_user_id
       and p_amount >= case when a.seq = 0 then a.starting_price else a.current_price + a.min_increment end
    returning a.* into cur;

    if found then
      insert into bids (auction_id, user_id, amount, seq, request_id, created_at, updated_at)
      values (p_auction_id, p_user_id, p_amount, cur.seq, p_request_id, cur.last_bid_at, cur.last_bid_at)
      returning id into r.bid_id;
      r.accepted := true;
      r.seq := cur.seq;
      r.amount := p_amount;
      r.current_price := cur.current_price;
      r.min_amount := cur.current_price + cur.min_increment;
      r.created_at := cur.last_bid_at;
      return r;
    end if;

    -- Rejected. A copy of this request may have won while we waited on the lock.
    if p_request_id is not null then
      r := auction.earlier_outcome(p_auction_id, p_user_id, p_amount, p_request_id);
      if r.accepted is not null then
        return r;
      end if;
      r := row(false, null, null, null, null, null, null, null, false);
    end if;
    -- Read the latest committed row to say why.
    select * into cur from auctions where id = p_auction_id;
    if not found then
      r.reason := 'auction_not_found';
      return r;
    end if;
    v_now := clock_timestamp();
    r.current_price := cur.current_price;
    r.min_amount := case when cur.seq = 0 then cur.starting_price else cur.current_price + cur.min_increment end;
    r.reason := case
      when cur.status = 'cancelled' then 'cancelled'
      when cur.status = 'ended' or v_now >= cur.end_time then 'ended'
      when v_now < cur.start_time then 'not_started'
      when cur.creator_id = p_user_id then 'own_auction'
      when p_amount < r.min_amount then 'too_low'
    end;
    -- No reason means the row changed between the guard and this read (say, an extension): try again.
    if r.reason is not null or attempt >= 3 then
      r.reason := coalesce(r.reason, 'too_low');
      return r;
    end if;
  end loop;
end;
$$;

comment on function auction.place_bid(uuid, uuid, numeric, text) is
  'Places a bid. Returns accepted or a rejection reason: auction_not_found, not_started, ended, cancelled, too_low, own_auction, invalid_amount, invalid_request_id, request_id_conflict.';
