-- The judge in named steps (sql/functions/rules.sql and bids.sql): the record types its steps pass, and
-- the old definitions whose signatures change or that nothing uses any more. The new definitions are in
-- sql/functions/, applied after this file.

-- An auction's increment rule unpacked for lookups: the fixed increment, or the table's bounds and steps.
create type auction.increments as (
  fixed  numeric,
  below  numeric[],   -- steps[i] applies while the price is below below[i]; the last step has no bound
  steps  numeric[]
);

-- What the proxy ladder makes of one bid: a refusal, or the bid rows it writes and the auction after it.
create type auction.ladder_step as (
  reason      text,         -- too_low or max_not_raised when refused, else null
  shown_max   numeric,      -- a row for the outbid leader at their maximum, before the bid's own
  amount      numeric,      -- the bid's own row (null: a raised maximum with no visible bid)
  kind        text,         -- that row's kind: 'bid' when it is the amount typed, else 'proxy'
  answer      numeric,      -- a row for the leader after the bid's own, when their maximum holds
  leader      uuid,         -- after the step: the high bidder,
  leader_max  numeric,      -- their maximum,
  price       numeric,      -- the price,
  end_time    timestamptz   -- and the end (soft close)
);

-- What judging one auction's bids hands place_bids.
create type auction.judged as (
  outs      auction.bid_outcome[],   -- one per bid, in the order given
  write     auction.auction_write,   -- the auction's new state; null when no bid changed it
  bids      auction.bid_write[],     -- rows to insert
  alerts    auction.outbid_write[],  -- outbid notices, sent once the write passed its guard
  accepted  int[]                    -- ordinals accepted in this batch (copies too): ended if the write fails
);

-- judge_bids returns its own auction's part now instead of threading the whole batch through every call.
drop function if exists auction.judge_bids(uuid, int[], uuid[], numeric[], text[], numeric[], auction.bid_writes);
drop type if exists auction.bid_writes;

-- increment_at(fixed, jsonb, price) and step_at(price, fixed, below, steps) become one lookup over
-- auction.increments, increment_at(increments, price).
drop function if exists auction.increment_at(numeric, jsonb, numeric);
drop function if exists auction.step_at(numeric, numeric, numeric[], numeric[]);

-- notify_outbid needs the auction's id, not its row.
drop function if exists auction.notify_outbid(uuid, auction.auctions, bigint, numeric, numeric, timestamptz);
