import type { Sql } from 'postgres';
import { metrics } from '../metrics.ts';
import { placeBid, type BidInput, type BidOutcome } from './bids.ts';

type Pending = { bid: BidInput; resolve: (o: BidOutcome) => void; reject: (e: unknown) => void };

/** The database did not answer in time: the bid may or may not have committed; retry with its request_id. */
export class OutcomeUnknownError extends Error {
  code = 'outcome_unknown';
}

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
    } catch {
      // one bad bid must not fail the others: retry each alone, each with its own outcome or error
      end();
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
