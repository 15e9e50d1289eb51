-- What a watcher needs after each accepted bid, in the bid's notification and in the replayed bid log:
-- the next minimum and whether buy-now is still offered, as the auction stood right after that bid.
-- Runs as is in psql: psql "$DATABASE_URL" -f sql/000009_bid_facts.sql

-- The auction right after the bid with `p_seq` and `p_amount` (each accepted bid sets the price), judged by
-- the same functions as auction.auction_facts, so a bid event and a snapshot never disagree.
create function auction.bid_facts(a auction.auctions, p_seq bigint, p_amount numeric, p_kind text,
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

create or replace function auction.bids_notify() returns trigger
language plpgsql
set search_path = auction, pg_catalog
set enable_seqscan = off
as $$
declare
  a auctions;
  f record;
begin
  select * into a from auctions where id = new.auction_id;
  f := bid_facts(a, new.seq, new.amount, new.kind);
  perform pg_notify('auction:' || new.auction_id, json_build_object(
    'type', 'bid_placed', 'auction_id', new.auction_id, 'seq', new.seq, 'bid_id', new.id,
    'user_id', new.user_id, 'amount', new.amount::text, 'kind', new.kind,
    'reserve_met', a.reserve_price is null or new.amount >= a.reserve_price,
    'min_next_bid', f.min_next_bid::text,
    'buy_now_price', case when f.buy_now_available then a.buy_now_price::text end,
    'time', new.created_at)::text);
  return null;
end;
$$;
