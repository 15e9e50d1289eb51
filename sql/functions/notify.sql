-- Notifications, sent by trigger functions so that psql, the service and any other writer notify alike.
-- Channel per auction: 'auction:<id>'; per user: 'user:<id>'; new auctions: 'auctions'. Amounts travel as
-- strings so no float ever touches them. Payload types: src/realtime/notifications.ts.
-- Applied after the migrations and again whenever it changes: each definition is whole, with its SET clauses
-- (docs/sql-conventions.md).

-- One statement-level trigger for all the bids an INSERT adds (a batch of place_bids is one INSERT): each
-- auction is read once, not once per bid, and one NOTIFY per auction carries its bids: bids_placed, with the
-- bid_placed event of each bid in seq order, at most 16 a payload (NOTIFY takes 8,000 bytes; one event is
-- under 450). The instance splits it back into bid_placed events (src/realtime/notifications.ts).
-- pg_notify runs after the sort (a volatile target is evaluated after ORDER BY), so chunks go in seq order.
create or replace function auction.bids_notify() returns trigger
language plpgsql
set search_path = auction, pg_catalog
set enable_seqscan = off
as $$
begin
  perform pg_notify('auction:' || c.auction_id,
                    json_build_object('type', 'bids_placed', 'auction_id', c.auction_id, 'bids', c.bids)::text)
     from (select e.auction_id, e.chunk, json_agg(e.event order by e.seq) as bids
             from (select b.auction_id, b.seq, b.seq / 16 as chunk,  -- seqs are unique per auction: ≤ 16 a chunk
                          json_build_object(
                            'type', 'bid_placed', 'auction_id', b.auction_id, 'seq', b.seq, 'bid_id', b.id,
                            'user_id', b.user_id, 'amount', b.amount::text, 'kind', b.kind,
                            'reserve_met', a.reserve_price is null or b.amount >= a.reserve_price,
                            'min_next_bid', f.min_next_bid::text,
                            'buy_now_price', case when f.buy_now_available then a.buy_now_price::text end,
                            'time', b.created_at) as event
                     from new_bids b
                     join auctions a on a.id = b.auction_id
                    cross join lateral bid_facts(a, b.seq, b.amount, b.kind) f) e
            group by e.auction_id, e.chunk) c
    order by c.auction_id, c.chunk;
  return null;
end;
$$;

-- Status changes and extensions. An auction that goes from pending straight to ended after its start time
-- with no bid (its start job late, or the end came first) sends auction_started first, so every subscriber
-- sees started, then ended, whichever job ran.
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
  if old.status = 'pending' and new.status = 'ended' and old.start_time <= clock_timestamp() and new.seq = old.seq then
    -- it ran without its start job having run (late, or the end came first): subscribers still see it start
    -- (not for a buy-now, whose bid was heard already: bid_placed, then auction_ended)
    perform pg_notify('auction:' || new.id, json_build_object(
      'type', 'auction_started', 'auction_id', new.id, 'seq', old.seq, 'status', 'active',
      'winner_id', null, 'final_price', null, 'reserve_met', null, 'reason', null, 'end_time', old.end_time,
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
create or replace function auction.notify_outbid(p_user_id uuid, p_auction_id uuid, p_seq bigint, p_price numeric,
                                                 p_min_next numeric, p_at timestamptz) returns void
language sql
as $$
  select pg_notify('user:' || p_user_id, json_build_object(
    'type', 'outbid', 'auction_id', p_auction_id, 'seq', p_seq, 'current_price', p_price::text,
    'min_next_bid', p_min_next::text, 'time', p_at)::text);
$$;
