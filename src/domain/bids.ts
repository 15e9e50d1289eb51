// Bids to the database: each one judged by auction.place_bid(s); the reply is only produced after its
// transaction committed. Bids that arrive together go in one transaction (group commit).
import type { Sql } from 'postgres';
import { ClientFacingError, isConnectionLoss } from '../db/errors.ts';
import { metrics } from '../metrics.ts';

export type BidOutcome = {
  accepted: boolean;
  reason: string | null;
  bid_id: string | null;
  seq: number | null;
  amount: string | null;
  current_price: string | null;
  min_amount: string | null;
  created_at: Date | null;
  duplicate: boolean;
  is_leading: boolean | null;
  max_amount: string | null;
  reserve_met: boolean | null;
  end_time: Date | null;
};

/** A typed bid (`amount`), a proxy bid up to `maxAmount`, or both (amount opens, the proxy defends). */
export type BidInput = { auctionId: string; userId: string; amount?: string | null; maxAmount?: string | null; requestId?: string | null };
export type BuyNowInput = { auctionId: string; userId: string; requestId?: string | null };

/** The database did not answer in time, or its connection was lost: the bid may or may not have committed; retry with its request_id. */
export class OutcomeUnknownError extends ClientFacingError {
  constructor(message: string) {
    super('outcome_unknown', 504, message);
  }
}

const LOST = 'the database connection was lost; the bid may or may not have committed';

/** A connection lost mid-statement becomes outcome-unknown; other errors pass as they are. */
function unknownIfLost(err: unknown): never {
  throw isConnectionLoss(err) ? new OutcomeUnknownError(LOST) : err;
}

/** One bid through auction.place_bid. */
export async function placeBid(sql: Sql, b: BidInput): Promise<BidOutcome> {
  const end = metrics.bidLatency.startTimer();
  try {
    const [r] = await sql<BidOutcome[]>`
      select * from auction.place_bid(${b.auctionId}, ${b.userId}, ${b.amount ?? null}::numeric, ${b.requestId ?? null},
        ${b.maxAmount ?? null}::numeric)`.catch(unknownIfLost);
    metrics.bids.inc({ outcome: r.accepted ? 'accepted' : r.reason ?? 'rejected' });
    return r;
  } finally {
    end();
  }
}

/** Buy-now through auction.buy_now: ends the auction for this user at its buy-now price. */
export async function buyNow(sql: Sql, b: BuyNowInput): Promise<BidOutcome> {
  const [r] = await sql<BidOutcome[]>`select * from auction.buy_now(${b.auctionId}, ${b.userId}, ${b.requestId ?? null})`.catch(unknownIfLost);
  metrics.bids.inc({ outcome: 'buy_now' });
  return r;
}

type Pending = { bid: BidInput; resolve: (o: BidOutcome) => void; reject: (e: unknown) => void };

/**
 * Group commit. A bid that arrives while nothing is in flight runs at once, alone; bids that arrive
 * while `concurrency` batches are in flight wait and go together in the next transaction
 * (auction.place_bids). No timer: the batch size follows the load. Each caller gets its own outcome
 * after the batch committed.
 */
export class BidBatcher {
  private queue: Pending[] = [];
  private inFlight = 0;
  private sql: Sql;
  private maxBatch: number;
  private concurrency: number;
  private timeoutMs: number;

  constructor(sql: Sql, opts: { maxBatch: number; concurrency: number; timeoutMs?: number }) {
    this.sql = sql;
    this.timeoutMs = opts.timeoutMs ?? 5_000;
    this.maxBatch = opts.maxBatch;
    this.concurrency = opts.concurrency;
  }

  submit(bid: BidInput): Promise<BidOutcome> {
    return new Promise((resolve, reject) => {
      this.queue.push({ bid, resolve, reject });
      this.pump();
    });
  }

  private pump() {
    while (this.inFlight < this.concurrency && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      this.inFlight++;
      // A query lost with its connection may never settle (postgres.js has no client-side query timeout):
      // free the slot and fail these bids as outcome-unknown, so later bids are not stuck behind them.
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          for (const p of batch) p.reject(new OutcomeUnknownError('the database did not answer in time'));
          resolve();
        }, this.timeoutMs);
      });
      void Promise.race([this.run(batch), expired]).finally(() => {
        clearTimeout(timer);
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async run(batch: Pending[]) {
    metrics.bidBatchSize.observe(batch.length);
    if (batch.length === 1) {
      const [p] = batch;
      await placeBid(this.sql, p.bid).then(p.resolve, p.reject);
      return;
    }
    const end = metrics.bidLatency.startTimer();
    let rows: (BidOutcome & { ord: number })[];
    try {
      rows = await this.sql<(BidOutcome & { ord: number })[]>`
        select * from auction.place_bids(
          ${batch.map((p) => p.bid.auctionId)}::uuid[], ${batch.map((p) => p.bid.userId)}::uuid[],
          ${batch.map((p) => p.bid.amount ?? null)}::numeric[], ${batch.map((p) => p.bid.requestId ?? null)}::text[],
          ${batch.map((p) => p.bid.maxAmount ?? null)}::numeric[])`;
    } catch (err) {
      end();
      // the batch may have committed: a bid retried here without a request_id could be placed twice
      if (isConnectionLoss(err)) {
        for (const p of batch) p.reject(new OutcomeUnknownError(LOST));
        return;
      }
      // one bad bid must not fail the others: retry each alone, each with its own outcome or error
      await Promise.all(batch.map((p) => placeBid(this.sql, p.bid).then(p.resolve, p.reject)));
      return;
    }
    end();
    for (const r of rows) {
      metrics.bids.inc({ outcome: r.accepted ? 'accepted' : r.reason ?? 'rejected' });
      const { ord, ...outcome } = r;
      batch[ord - 1].resolve(outcome);
    }
  }
}
