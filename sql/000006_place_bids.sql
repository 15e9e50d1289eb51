-- place_bids: many bids in one transaction (group commit). NOTIFY serializes commits cluster-wide,
-- so one commit for a batch raises throughput; each bid is still judged alone by place_bid.

create function auction.place_bids(
  p_auction_ids uuid[],
  p_user_ids    uuid[],
  p_amounts     numeric[],
  p_request_ids text[]
) returns table (
  ord int, accepted boolean, reason text, bid_id uuid, seq bigint, amount numeric(12,2),
  current_price numeric(12,2), min_amount numeric(12,2), created_at timestamptz, duplicate boolean
)
language plpgsql
set search_path = auction, pg_catalog
as $$
declare
  i int;
  r auction.bid_outcome;
begin
  if cardinality(p_auction_ids) is distinct from cardinality(p_user_ids)
     or cardinality(p_auction_ids) is distinct from cardinality(p_amounts)
     or cardinality(p_auction_ids) is distinct from cardinality(p_request_ids) then
    raise exception 'place_bids: arrays differ in length' using errcode = 'AU014';
  end if;
  -- Auction order, then arrival order: every batch takes row locks in the same order, so batches from
  -- several instances cannot deadlock, and bids on one auction keep their arrival order.
  for i in select g from generate_subscripts(p_auction_ids, 1) g order by p_auction_ids[g], g loop
    r := auction.place_bid(p_auction_ids[i], p_user_ids[i], p_amounts[i], p_request_ids[i]);
    ord := i;
    accepted := r.accepted; reason := r.reason; bid_id := r.bid_id; seq := r.seq; amount := r.amount;
    current_price := r.current_price; min_amount := r.min_amount; created_at := r.created_at;
    duplicate := r.duplicate;
    return next;
  end loop;
end;
$$;
