-- Bid notifications from one statement-level trigger with a transition table instead of one trigger call per
-- bid row (issue 16): a batch of place_bids is one INSERT, so its bids are announced by one call that reads
-- each auction once, and by one NOTIFY per auction (bids_placed, the bid_placed event of each bid, at most 16
-- a payload), which older instances do not read: they refuse to start on this migration. The body is restated
-- here (sql/functions/notify.sql replaces it) so that no insert meets the new trigger with the row-level body.
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

drop trigger bids_after_insert_notify on auction.bids;
create trigger bids_after_insert_notify
  after insert on auction.bids
  referencing new table as new_bids
  for each statement execute function auction.bids_notify();
