-- Triggers: invariants that hold for every writer (service or psql), and pg_notify on every change
-- subscribers must see. Naming: <table>_<when>_<what>; see docs/sql-conventions.md.

-- Custom SQLSTATEs raised here and in 000004 are mapped to client errors in src/db/errors.ts.
--   AU001 invalid status transition     AU002 column may not change
--   AU003 bids are append-only          AU004 price/seq change without a matching bid

create function auction.auctions_guard_update() returns trigger
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
  if new.status = 'ended' and old.status <> 'ended' then
    -- a direct end in psql names the winner like end_auction does (a wrong winner fails auctions_winner_is_high_bidder)
    new.winner_id := coalesce(new.winner_id, new.high_bidder_id);
    new.ended_at := coalesce(new.ended_at, clock_timestamp());
  end if;
  if new.id <> old.id or new.item_id <> old.item_id or new.creator_id <> old.creator_id then
    raise exception 'auction id, item_id and creator_id never change' using errcode = 'AU002';
  end if;
  if old.seq > 0 and (new.starting_price <> old.starting_price or new.min_increment <> old.min_increment) then
    raise exception 'starting_price and min_increment are fixed once bidding started' using errcode = 'AU002';
  end if;
  if new.seq <> old.seq then
    -- This trigger runs after the row lock is granted. An UPDATE that waited on a lock-only holder
    -- (SELECT ... FOR UPDATE) is not re-checked by EvalPlanQual, so its WHERE saw an old clock:
    -- a bid whose time ran out while it waited is skipped here, and place_bid reports 'ended'.
    new.last_bid_at := clock_timestamp();
    if new.last_bid_at >= new.end_time or old.status not in ('pending', 'active') then
      return null;
    end if;
    if new.seq <> old.seq + 1
       or new.current_price < (case when old.seq = 0 then old.starting_price
                                    else old.current_price + old.min_increment end) then
      raise exception 'auction % seq/price may only advance by one valid bid', old.id using errcode = 'AU004';
    end if;
  elsif new.current_price <> old.current_price or new.high_bidder_id is distinct from old.high_bidder_id then
    raise exception 'auction % price and high bidder change only with a bid', old.id using errcode = 'AU004';
  end if;
  return new;
end;
$$;

create trigger auctions_before_update_guard
  before update on auction.auctions
  for each row execute function auction.auctions_guard_update();

-- Checked at commit: the auction's price, seq and high bidder are those of a stored bid.
create function auction.auctions_check_bid_exists() returns trigger
language plpgsql
set search_path = auction, pg_catalog
as $$
begin
  if not exists (select 1 from bids b
                  where b.auction_id = new.id and b.seq = new.seq
                    and b.amount = new.current_price and b.user_id = new.high_bidder_id) then
    raise exception 'auction % seq % has no matching bid', new.id, new.seq using errcode = 'AU004';
  end if;
  return null;
end;
$$;

create constraint trigger auctions_after_update_bid_exists
  after update on auction.auctions
  deferrable initially deferred
  for each row when (new.seq <> old.seq)
  execute function auction.auctions_check_bid_exists();

create function auction.bids_guard_append_only() returns trigger
language plpgsql
as $$
begin
  raise exception 'bids are append-only (% refused)', tg_op using errcode = 'AU003';
end;
$$;

create trigger bids_before_update_delete_append_only
  before update or delete on auction.bids
  for each row execute function auction.bids_guard_append_only();

-- A bid row must carry a seq its auction has reached (checked at commit, after the guarded UPDATE).
create function auction.bids_check_seq_reached() returns trigger
language plpgsql
set search_path = auction, pg_catalog
as $$
begin
  if not exists (select 1 from auctions a where a.id = new.auction_id and a.seq >= new.seq) then
    raise exception 'bid % has seq % beyond its auction', new.id, new.seq using errcode = 'AU004';
  end if;
  return null;
end;
$$;

create constraint trigger bids_after_insert_seq_reached
  after insert on auction.bids
  deferrable initially deferred
  for each row execute function auction.bids_check_seq_reached();

-- Notifications. Channel per auction: 'auction:<id>'; per user: 'user:<id>'; new auctions: 'auctions'.
-- Amounts travel as strings so no float ever touches them.

create function auction.bids_notify() returns trigger
language plpgsql
as $$
begin
  perform pg_notify('auction:' || new.auction_id, json_build_object(
    'type', 'bid_placed', 'auction_id', new.auction_id, 'seq', new.seq, 'bid_id', new.id,
    'user_id', new.user_id, 'amount', new.amount::text, 'time', new.created_at)::text);
  return null;
end;
$$;

create trigger bids_after_insert_notify
  after insert on auction.bids
  for each row execute function auction.bids_notify();

create function auction.auctions_notify_change() returns trigger
language plpgsql
as $$
declare
  payload text;
begin
  if new.status <> old.status then
    payload := json_build_object(
      'type', case new.status when 'active' then 'auction_started'
                              when 'ended' then 'auction_ended'
                              when 'cancelled' then 'auction_cancelled' end,
      -- the seq of the bids before this change: a first bid starts the auction, then counts as seq 1
      'auction_id', new.id, 'seq', old.seq, 'status', new.status,
      'winner_id', new.winner_id,
      'final_price', case when new.status = 'ended' and new.seq > 0 then new.current_price::text end,
      'reason', new.cancel_reason, 'end_time', new.end_time, 'time', clock_timestamp())::text;
    perform pg_notify('auction:' || new.id, payload);
    if new.status = 'ended' then
      -- seller and winner hear the result even when not subscribed to the auction
      perform pg_notify('user:' || new.creator_id, payload);
      if new.winner_id is not null then
        perform pg_notify('user:' || new.winner_id, payload);
      end if;
    end if;
  elsif new.end_time <> old.end_time then
    perform pg_notify('auction:' || new.id, json_build_object(
      'type', 'auction_extended', 'auction_id', new.id, 'seq', new.seq,
      'end_time', new.end_time, 'time', clock_timestamp())::text);
  end if;
  return null;
end;
$$;

create trigger auctions_after_update_notify
  after update of status, end_time on auction.auctions
  for each row when (new.status is distinct from old.status or new.end_time is distinct from old.end_time)
  execute function auction.auctions_notify_change();

create function auction.auctions_notify_created() returns trigger
language plpgsql
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

create trigger auctions_after_insert_notify
  after insert on auction.auctions
  for each row execute function auction.auctions_notify_created();

-- New rows start at their starting price, whoever inserts them.
create function auction.auctions_before_insert_defaults() returns trigger
language plpgsql
as $$
begin
  new.current_price := new.starting_price;
  new.seq := 0;
  new.high_bidder_id := null;
  new.last_bid_at := null;
  new.winner_id := null;
  if new.status not in ('pending', 'active') then
    raise exception 'a new auction is pending or active, not %', new.status using errcode = 'AU001';
  end if;
  return new;
end;
$$;

create trigger auctions_before_insert_defaults
  before insert on auction.auctions
  for each row execute function auction.auctions_before_insert_defaults();
