// Server clock offset from message timestamps, so a page can count down to end_time in server time.
//
// A reply stamped T by the server to a request sent at local s and received at local r bounds the offset
// (server - local) within [T - r, T - s]; the midpoint is off by at most half the round trip. The sample
// with the shortest round trip among the recent ones wins. Before any reply, an unrequested message gives
// only the lower bound T - r (it cannot have been stamped after it arrived).

type Sample = { offset: number; rtt: number };

export class ServerClock {
  private samples: Sample[] = [];
  private lowerBound: number | undefined;
  private readonly keep: number;
  private readonly now: () => number;

  constructor(opts: { keep?: number; now?: () => number } = {}) {
    this.keep = opts.keep ?? 16;
    this.now = opts.now ?? Date.now;
  }

  /** A reply's server timestamp with the local times its request was sent and its reply arrived. */
  addReply(serverTs: number, sentAt: number, receivedAt: number) {
    if (!Number.isFinite(serverTs) || receivedAt < sentAt) return;
    this.samples.push({ offset: serverTs - (sentAt + receivedAt) / 2, rtt: receivedAt - sentAt });
    if (this.samples.length > this.keep) this.samples.shift();
  }

  /** Any message's server timestamp and local arrival time. */
  addMessage(serverTs: number, receivedAt: number) {
    if (!Number.isFinite(serverTs)) return;
    const lb = serverTs - receivedAt;
    // decays toward newer values so a clock step on either side is followed
    this.lowerBound = this.lowerBound === undefined || lb > this.lowerBound ? lb : this.lowerBound - Math.min(50, this.lowerBound - lb);
  }

  /** Estimated server time minus local time, ms (0 before any message). */
  get offsetMs(): number {
    if (this.samples.length > 0) {
      let best = this.samples[0];
      for (const s of this.samples) if (s.rtt < best.rtt) best = s;
      return Math.round(best.offset);
    }
    return this.lowerBound ?? 0;
  }

  /** Half the best round trip: how far off offsetMs may be (Infinity with no reply yet). */
  get uncertaintyMs(): number {
    if (this.samples.length === 0) return Infinity;
    return Math.min(...this.samples.map((s) => s.rtt)) / 2;
  }

  /** Current server time, ms since the epoch. */
  serverNow(): number {
    return this.now() + this.offsetMs;
  }
}
