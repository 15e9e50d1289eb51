import { TokenBucket } from './token-bucket.ts';

export type UserLimitsConfig = {
  maxSocketsPerUser: number;
  userRatePerSec: number;
  userBurst: number;
  upgradesPerIpPerMin: number;
};

type UserEntry = { sockets: number; bucket: TokenBucket };

/**
 * The one owner of this instance's per-user and per-IP counts: open sockets and the message bucket each
 * user's sockets share, and the upgrade bucket of each client IP. Per instance: with N instances behind a
 * balancer a user may hold up to N times the limits.
 */
export class UserLimits {
  private c: UserLimitsConfig;
  private users = new Map<string, UserEntry>();
  private ips = new Map<string, TokenBucket>();
  private now: () => number;
  private lastSweep = 0;

  constructor(c: UserLimitsConfig, now: () => number = Date.now) {
    this.c = c;
    this.now = now;
  }

  /** An upgrade from `ip`: refused when it is over its per-minute rate. */
  admitUpgrade(ip: string): { ok: true } | { ok: false; retryAfterSec: number } {
    this.sweep();
    let b = this.ips.get(ip);
    if (!b) this.ips.set(ip, (b = new TokenBucket(this.c.upgradesPerIpPerMin / 60, this.c.upgradesPerIpPerMin, this.now)));
    return b.take() ? { ok: true } : { ok: false, retryAfterSec: b.retryAfterSec };
  }

  /** Reserves a socket for `userId`: a release function, or undefined when the user already holds the maximum. */
  openSocket(userId: string): (() => void) | undefined {
    this.sweep();
    let e = this.users.get(userId);
    if (!e) this.users.set(userId, (e = { sockets: 0, bucket: new TokenBucket(this.c.userRatePerSec, this.c.userBurst, this.now) }));
    if (e.sockets >= this.c.maxSocketsPerUser) return undefined;
    e.sockets++;
    const entry = e;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // a user without sockets keeps a bucket that is not yet full (reconnecting must not refill it)
      if (--entry.sockets === 0 && entry.bucket.idle && this.users.get(userId) === entry) this.users.delete(userId);
    };
  }

  /** One message from any of `userId`'s sockets against the user's shared bucket. */
  takeMessage(userId: string): boolean {
    return this.users.get(userId)?.bucket.take() ?? true;
  }

  /** Forgets full buckets (they hold nothing): at most once a second, and only once there are many, so a sweep stays rare. */
  private sweep() {
    if (this.ips.size + this.users.size < 1024 || this.now() - this.lastSweep < 1000) return;
    this.lastSweep = this.now();
    for (const [k, b] of this.ips) if (b.idle) this.ips.delete(k);
    for (const [k, u] of this.users) if (u.sockets === 0 && u.bucket.idle) this.users.delete(k);
  }

  socketsOf(userId: string): number {
    return this.users.get(userId)?.sockets ?? 0;
  }
}
