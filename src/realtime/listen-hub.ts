import postgres, { type Sql } from 'postgres';
import type { FastifyBaseLogger } from 'fastify';
import { metrics } from '../metrics.ts';
import { withDeadline } from '../util/deadline.ts';

type Handler = (payload: string) => void;

/** channels per LISTEN/UNLISTEN query */
const LISTEN_BATCH = 500;

/**
 * One dedicated connection that LISTENs on the channels local sockets need, ref-counted.
 * postgres.js's own sql.listen() re-listens once after a drop and gives up if that fails,
 * so this keeps the channel set itself and re-LISTENs with backoff until it succeeds,
 * then tells `onResync` so feeds can catch up on what was missed.
 */
export class ListenHub {
  private sql: Sql;
  private channels = new Map<string, Set<Handler>>();
  private listening = new Set<string>();
  private up = false;
  private closed = false;
  private reconnecting: Promise<void> | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private pending: { channels: Set<string>; done: Promise<Error | undefined> } | undefined;
  private resyncHandlers = new Set<() => void>();
  backendPid: number | undefined;

  private log: FastifyBaseLogger;

  private url: string;
  /** a LISTEN query (or the probe) without an answer by then gets the client replaced */
  private queryDeadlineMs: number;

  constructor(url: string, log: FastifyBaseLogger, o: { queryDeadlineMs?: number } = {}) {
    this.log = log;
    this.url = url;
    this.queryDeadlineMs = o.queryDeadlineMs ?? 5000;
    this.sql = this.client();
  }

  private client(): Sql {
    // onnotify is a runtime option of postgres.js that its types do not declare
    return postgres(this.url, {
      max: 1,
      idle_timeout: 0,
      max_lifetime: null,
      fetch_types: false,
      connect_timeout: 5,
      onnotice: () => {},
      connection: { application_name: 'auction-listen' },
      onnotify: (channel: string, payload: string) => this.deliver(channel, payload),
      onclose: () => this.lost(),
    } as postgres.Options<{}>);
  }

  get ready() {
    return this.up && !this.closed;
  }

  async start() {
    await this.connect();
  }

  onResync(fn: () => void) {
    this.resyncHandlers.add(fn);
  }

  /** Listens on `channel` (if not yet) and calls `handler` for each notification; returns the undo. */
  async subscribe(channel: string, handler: Handler): Promise<() => Promise<void>> {
    let set = this.channels.get(channel);
    if (!set) {
      set = new Set();
      this.channels.set(channel, set);
    }
    set.add(handler);
    const err = await this.sync(channel);
    if (err && !this.listening.has(channel)) {
      // the caller gets no undo, so take the handler back now
      set.delete(handler);
      if (set.size === 0 && this.channels.get(channel) === set) this.channels.delete(channel);
      throw err;
    }
    let done = false;
    return async () => {
      if (done) return;
      done = true;
      const s = this.channels.get(channel);
      if (!s) return;
      s.delete(handler);
      if (s.size === 0) {
        this.channels.delete(channel);
        await this.sync(channel); // a failed UNLISTEN only costs notifications nobody handles
      }
    };
  }

  async close() {
    this.closed = true;
    this.up = false;
    await this.sql.end({ timeout: 1 });
  }

  private deliver(channel: string, payload: string) {
    const set = this.channels.get(channel);
    if (!set) return;
    for (const h of set) {
      try {
        h(payload);
      } catch (err) {
        this.log.error({ err, channel }, 'notification handler failed');
      }
    }
  }

  // One LISTEN query at a time (with connect), so a quick unsubscribe/subscribe cannot reorder.
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => {});
    return next;
  }

  /**
   * Brings the server's LISTEN state of `channel` in line with `channels`. Channels asked for while a query is in
   * flight go together in the next one (10,000 sockets subscribing at once are a few round trips, not 10,000).
   * Resolves to the error of a failed query, if any; the caller looks at `listening` for its own channel.
   */
  private sync(channel: string): Promise<Error | undefined> {
    let batch = this.pending;
    if (!batch) {
      const channels = new Set<string>();
      const next: { channels: Set<string>; done: Promise<Error | undefined> } = {
        channels,
        done: this.serial(async () => {
          if (this.pending === next) this.pending = undefined; // later asks go in the next batch
          return this.apply(channels);
        }),
      };
      batch = this.pending = next;
    }
    batch.channels.add(channel);
    return batch.done;
  }

  private async apply(channels: Set<string>): Promise<Error | undefined> {
    if (!this.up) return undefined; // reconnect will LISTEN on everything wanted
    const todo = [...channels].filter((c) => this.channels.has(c) !== this.listening.has(c));
    for (let i = 0; i < todo.length; i += LISTEN_BATCH) {
      const part = todo.slice(i, i + LISTEN_BATCH).map((c) => [c, this.channels.has(c)] as const);
      try {
        await this.toggle(part);
      } catch (err) {
        return err as Error;
      }
      for (const [c, want] of part) {
        if (want) this.listening.add(c);
        else this.listening.delete(c);
      }
      metrics.listenChannels.set(this.listening.size);
    }
    return undefined;
  }

  /** LISTEN (true) or UNLISTEN (false) on each channel, in one round trip. */
  private toggle(part: readonly (readonly [string, boolean])[]) {
    return this.timed(this.sql.unsafe(part.map(([c, want]) => `${want ? 'listen' : 'unlisten'} ${quote(c)};`).join('\n')).simple(), 'LISTEN');
  }

  /** Bounds a query on the LISTEN client; one that does not answer gets the client replaced. */
  private timed<T>(query: Promise<T>, what: string): Promise<T> {
    return withDeadline(query, this.queryDeadlineMs, () => {
      this.replaceClient();
      throw new Error(`${what}: no answer in ${this.queryDeadlineMs} ms; replaced the client`);
    });
  }

  // postgres.js 3.4.9 can leave a client whose queries never settle after a reset: start a fresh one.
  // Ending the old one fires its onclose, which starts the reconnect loop unless it already runs.
  private replaceClient() {
    const old = this.sql;
    this.sql = this.client();
    void old.end({ timeout: 0 }).catch(() => {});
    this.lost(); // the new client listens on nothing yet (no-op inside the reconnect loop)
  }

  private async connect() {
    const [{ pid }] = await this.timed(this.sql`select pg_backend_pid() as pid`, 'LISTEN probe');
    this.backendPid = pid as number;
    const wanted = [...this.channels.keys()];
    // one round trip per LISTEN_BATCH channels after a reconnect
    for (let i = 0; i < wanted.length; i += LISTEN_BATCH) {
      await this.toggle(wanted.slice(i, i + LISTEN_BATCH).map((c) => [c, true] as const));
    }
    this.listening = new Set(wanted);
    metrics.listenChannels.set(this.listening.size);
    this.up = true;
  }

  private lost() {
    if (this.closed || this.reconnecting) return;
    this.up = false;
    this.listening.clear();
    this.log.warn('LISTEN connection lost; reconnecting');
    this.reconnecting = (async () => {
      let delay = 50;
      while (!this.closed) {
        try {
          await this.serial(() => this.connect());
          break;
        } catch (err) {
          this.log.warn({ err: (err as Error).message, retryMs: delay }, 'LISTEN reconnect failed');
          await new Promise((r) => setTimeout(r, delay));
          delay = Math.min(delay * 2, 2000);
        }
      }
      this.reconnecting = undefined;
      if (this.closed) return;
      this.log.info({ channels: this.listening.size }, 'LISTEN connection back; resyncing');
      for (const fn of this.resyncHandlers) fn();
    })();
  }
}

function quote(channel: string) {
  return '"' + channel.replace(/"/g, '""') + '"';
}
