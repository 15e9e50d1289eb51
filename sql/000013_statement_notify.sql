-- Bid notifications from one statement-level trigger with a transition table instead of one trigger call per
-- bid row (issue 16): a batch of place_bids is one INSERT, so its bids are announced by one call that reads
-- each auction once. Same name, same payloads. The body is restated here (sql/functions/notify.sql replaces
-- it) so that no insert meets the statement-level trigger with the row-level body.
create or replace function auction.bids_notify() returns trigger
language plpgsql
set search_path = auction, pg_catalog
set enable_seqscan = off
as $$
begin
  perform pg_notify('auction:' || b.auction_id, json_build_object(
    'type', 'bid_placed', 'auction_id', b.auction_id, 'seq', b.seq, 'bid_id', b.id,
    'user_id', b.user_id, 'amount', b.amount::text, 'kind', b.kind,
    'reserve_met', a.reserve_price is null or b.amount >= a.reserve_price,
    'min_next_bid', f.min_next_bid::text,
    'buy_now_price', case when f.buy_now_available then a.buy_now_price::text end,
    'time', b.created_at)::text)
     from new_bids b
     join auctions a on a.id = b.auction_id
    cross join lateral bid_facts(a, b.seq, b.amount, b.kind) f
    order by b.auction_id, b.seq;
  return null;
end;
$$;

drop trigger bids_after_insert_notify on auction.bids;
create trigger bids_after_insert_notify
  after insert on auction.bids
  referencing new table as new_bids
  for each statement execute function auction.bids_notify();
