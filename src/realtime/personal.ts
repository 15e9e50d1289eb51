import type { FastifyBaseLogger } from 'fastify';
import { outbid, statusChanged } from '../protocol/render.ts';
import type { ChannelHub } from './feeds.ts';
import { parseNotification, type PersonalEvent } from './notifications.ts';

/**
 * The user's own channel (outbid alerts, results of their auctions and their wins) for one socket.
 * `outbid` always goes out; a result only when the socket is not watching that auction (it hears it there).
 * Messages to one user go to that user's sockets only, so each is serialized per socket.
 */
export class PersonalChannel {
  private undo: Promise<(() => Promise<void>) | undefined> | undefined;
  private closed = false;
  private hub: ChannelHub;
  private userId: string;
  private deliver: (text: string) => void;
  private watching: (auctionId: string) => boolean;
  private userName: (id: string) => Promise<string>;
  private log: () => FastifyBaseLogger;

  constructor(o: {
    hub: ChannelHub; userId: string; deliver: (text: string) => void; watching: (auctionId: string) => boolean;
    userName: (id: string) => Promise<string>; log: () => FastifyBaseLogger;
  }) {
    this.hub = o.hub;
    this.userId = o.userId;
    this.deliver = o.deliver;
    this.watching = o.watching;
    this.userName = o.userName;
    this.log = o.log;
  }

  get started() {
    return this.undo !== undefined;
  }

  /** LISTENs on user:<id>; resolves once listening (or once that failed, which is logged). */
  async start(): Promise<void> {
    this.undo ??= this.hub.subscribe(`user:${this.userId}`, (payload) => this.onEvent(payload)).catch((err) => {
      this.log().error({ err }, 'could not listen on the user channel');
      return undefined;
    });
    const undo = await this.undo;
    if (this.closed) await undo?.();
  }

  async close() {
    this.closed = true;
    const undo = await this.undo;
    await undo?.();
  }

  private onEvent(payload: string) {
    const e = parseNotification<PersonalEvent>(payload);
    if (!e) return;
    if (e.type === 'outbid') this.deliver(JSON.stringify(outbid(e)));
    else if (!this.watching(e.auction_id)) {
      const winner = e.winner_id;
      if (!winner) return this.deliver(JSON.stringify(statusChanged(e)));
      this.userName(winner).then((name) => this.deliver(JSON.stringify(statusChanged(e, name))),
        (err) => this.log().error({ err }, 'could not name the winner; result not sent'));
    }
  }
}
