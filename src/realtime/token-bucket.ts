/** A token bucket: `ratePerSec` refill up to `burst`. */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private ratePerSec: number;
  private burst: number;
  private now: () => number;

  constructor(ratePerSec: number, burst: number, now: () => number = Date.now) {
    this.ratePerSec = ratePerSec;
    this.burst = burst;
    this.now = now;
    this.tokens = burst;
    this.last = now();
  }

  take(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /**
   * Takes `n` at once, 0 when it could: a take larger than the burst is let through from a full bucket and
   * repaid before the next one. Otherwise the seconds until it could.
   */
  takeMany(n: number): number {
    this.refill();
    const need = Math.min(n, this.burst);
    if (this.tokens < need) return Math.max(1, Math.ceil((need - this.tokens) / this.ratePerSec));
    this.tokens -= n;
    return 0;
  }

  /** true when the bucket is full again: nothing would change if it were forgotten */
  get idle(): boolean {
    this.refill();
    return this.tokens >= this.burst;
  }

  /** seconds until the next token */
  get retryAfterSec(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : Math.ceil((1 - this.tokens) / this.ratePerSec);
  }

  private refill() {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.ratePerSec);
    this.last = now;
  }
}
