-- Views for operators and the service. Dropped and created again each time this file applies, so a view
-- over a.* takes a new column (docs/sql-conventions.md).

-- Views for operators: what psql users see, with the derived facts.
drop view if exists auction.live_auctions;
create view auction.live_auctions as
select a.id, i.name as item, a.status, a.current_price, a.seq as bids, a.high_bidder_id,
       hb.name as high_bidder, a.start_time, a.end_time,
       greatest(a.end_time - clock_timestamp(), interval '0') as time_left,
       auction.min_next_bid(a) as min_next_bid, auction.reserve_met(a) as reserve_met,
       a.leader_max, auction.buy_now_available(a) as buy_now_available
  from auction.auctions a
  join auction.items i on i.id = a.item_id
  left join auction.users hb on hb.id = a.high_bidder_id
 where a.status in ('pending', 'active')
 order by a.end_time;

drop view if exists auction.bid_history;
create view auction.bid_history as
select b.auction_id, b.seq, b.amount, b.user_id, u.name as bidder, b.created_at, b.request_id, b.id as bid_id,
       b.kind, b.max_amount
  from auction.bids b
  join auction.users u on u.id = b.user_id;

-- An auction with its derived public facts: what the service reads and sends.
drop view if exists auction.auction_facts;
create view auction.auction_facts as
select a.*, auction.min_next_bid(a) as min_next_bid, auction.reserve_met(a) as reserve_met,
       auction.buy_now_available(a) as buy_now_available
  from auction.auctions a;
