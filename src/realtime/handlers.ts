// One handler per client message type. Each takes only the operations it needs; what it replies is built
// in protocol/render.ts. A handler throws for an error reply (session.ts maps it).
import { createAuctionInput } from '../domain/auctions.ts';
import { AuthError, type Identity } from '../auth/tokens.ts';
import type { AuctionService } from '../domain/service.ts';
import type { ServerMessage } from '../protocol/messages.ts';
import { accepted, auctionList, bidList, bought, errorMessage, message, rejected, snapshot } from '../protocol/render.ts';
import type { ClientMessage, ClientType } from '../protocol/requests.ts';
import { ReplayRefusedError, type Feeds, type FeedSubscription, type ReplayBudget, type Subscriber } from './feeds.ts';

/** What a handler sees of its socket. */
export type SessionContext = {
  readonly userId: string;
  reply(m: ServerMessage): void;
  /** a reply already rendered (the original dialect's) */
  sendText(text: string): void;
  /** this socket as a feed member */
  readonly subscriber: Subscriber;
  /** the feed memberships this socket holds, by auction */
  readonly subscriptions: Map<string, FeedSubscription>;
  /** true once the socket is closing: a membership that completes now must be let go */
  readonly closing: boolean;
  /** this socket's budget of replayed bids (subscribe with since_seq) */
  readonly replayBudget: ReplayBudget;
  /** the socket closes with 4001 at this time (ms since the epoch) */
  expireAt(expiresAt: number): void;
};

export type Handler<T extends ClientType> = (m: Extract<ClientMessage, { type: T }>, s: SessionContext) => Promise<void>;
export type Handlers = { [T in ClientType]: Handler<T> };

export type HandlerDeps = {
  auctions: AuctionService; feeds: Pick<Feeds, 'subscribe'>; maxSubscriptions: number;
  verifyToken: (token: string) => Promise<Identity>;
};

export function makeHandlers(d: HandlerDeps): Handlers {
  return {
    ping: ping(),
    authenticate: authenticate(d.verifyToken),
    subscribe: subscribe(d),
    unsubscribe: unsubscribe(d.auctions),
    place_bid: placeBid(d.auctions),
    buy_now: buyNow(d.auctions),
    create_auction: createAuction(d.auctions),
    get_auction: getAuction(d.auctions),
    list_auctions: listAuctions(d.auctions),
    list_bids: listBids(d.auctions),
  };
}

const notFound = (rid: string | undefined, auctionId: string) => errorMessage('auction_not_found', 'no such auction', rid, auctionId);

function ping(): Handler<'ping'> {
  return async (m, s) => s.reply(message<'pong'>({ type: 'pong', request_id: m.request_id }));
}

/** A refused token leaves the socket as it was: the old token's exp still closes it. */
function authenticate(verify: HandlerDeps['verifyToken']): Handler<'authenticate'> {
  return async (m, s) => {
    const rid = m.request_id;
    let who: Identity;
    try {
      who = await verify(m.data.token);
    } catch (err) {
      if (err instanceof AuthError) return s.reply(errorMessage(err.code, err.message, rid));
      throw err;
    }
    if (who.userId !== s.userId) return s.reply(errorMessage('subject_mismatch', 'the token is for another user; this socket stays its own user\'s', rid));
    s.expireAt(who.expiresAt!);
    s.reply(message<'authenticated'>({ type: 'authenticated', request_id: rid, data: { expires_at: new Date(who.expiresAt!).toISOString() } }));
  };
}

/** Subscribing again replaces the subscription (a resume with since_seq); the snapshot goes out inside the feed. */
function subscribe(d: { feeds: Pick<Feeds, 'subscribe'>; maxSubscriptions: number }): Handler<'subscribe'> {
  return async (m, s) => {
    const rid = m.request_id;
    if (!(await dropSubscription(s, m.auction_id)) && s.subscriptions.size >= d.maxSubscriptions) {
      return s.reply(errorMessage('too_many_subscriptions', `at most ${d.maxSubscriptions} auctions per socket`, rid, m.auction_id));
    }
    let sub: FeedSubscription | undefined;
    try {
      sub = await d.feeds.subscribe(m.auction_id, s.subscriber, {
        sinceSeq: m.data?.since_seq,
        replayBudget: s.replayBudget,
        onSnapshot: (a) => s.reply(message<'auction_update'>({
          type: 'auction_update', auction_id: a.id, request_id: rid, seq: a.seq, data: { subscribed: true, ...snapshot(a) } })),
      });
    } catch (err) {
      if (err instanceof ReplayRefusedError) return s.reply(errorMessage('rate_limited', err.message, rid, m.auction_id));
      throw err;
    }
    if (!sub) return s.reply(notFound(rid, m.auction_id));
    await keepSubscription(s, m.auction_id, sub);
  };
}

/** Ends the socket's membership of the auction, if it holds one: true when it did. */
export async function dropSubscription(s: SessionContext, auctionId: string): Promise<boolean> {
  const held = s.subscriptions.get(auctionId);
  if (!held) return false;
  s.subscriptions.delete(auctionId);
  await held.unsubscribe();
  return true;
}

/** Records a new membership; a socket that closed meanwhile lets it go at once. */
export async function keepSubscription(s: SessionContext, auctionId: string, sub: FeedSubscription) {
  if (s.closing) await sub.unsubscribe();
  else s.subscriptions.set(auctionId, sub);
}

function unsubscribe(d: Pick<AuctionService, 'getAuction'>): Handler<'unsubscribe'> {
  return async (m, s) => {
    await dropSubscription(s, m.auction_id);
    const a = await d.getAuction(m.auction_id);
    if (!a) return s.reply(notFound(m.request_id, m.auction_id));
    s.reply(message<'auction_update'>({
      type: 'auction_update', auction_id: a.id, request_id: m.request_id, seq: a.seq, data: { subscribed: false, ...snapshot(a) } }));
  };
}

function placeBid(d: Pick<AuctionService, 'placeBid'>): Handler<'place_bid'> {
  return async (m, s) => {
    const asked = { amount: m.data.amount, maxAmount: m.data.max_amount };
    const r = await d.placeBid({ auctionId: m.auction_id, userId: s.userId, ...asked, requestId: m.request_id });
    if (r.accepted) {
      return s.reply(message<'bid_accepted'>({ type: 'bid_accepted', auction_id: m.auction_id, request_id: m.request_id, seq: r.seq!, data: accepted(r) }));
    }
    const { message: text, data } = rejected(r, asked);
    s.reply(message<'bid_rejected'>({
      type: 'bid_rejected', auction_id: m.auction_id, request_id: m.request_id, error: { code: data.reason, message: text }, data }));
  };
}

function buyNow(d: Pick<AuctionService, 'buyNow'>): Handler<'buy_now'> {
  return async (m, s) => {
    const r = await d.buyNow({ auctionId: m.auction_id, userId: s.userId, requestId: m.request_id });
    s.reply(message<'bid_accepted'>({ type: 'bid_accepted', auction_id: m.auction_id, request_id: m.request_id, seq: r.seq!, data: bought(r) }));
  };
}

function createAuction(d: Pick<AuctionService, 'createAuction'>): Handler<'create_auction'> {
  return async (m, s) => {
    const a = await d.createAuction(createAuctionInput(s.userId, m.data));
    s.reply(message<'auction_created'>({ type: 'auction_created', auction_id: a.id, request_id: m.request_id, seq: a.seq, data: snapshot(a) }));
  };
}

function getAuction(d: Pick<AuctionService, 'getAuction'>): Handler<'get_auction'> {
  return async (m, s) => {
    const a = await d.getAuction(m.auction_id);
    if (!a) return s.reply(notFound(m.request_id, m.auction_id));
    s.reply(message<'auction_update'>({
      type: 'auction_update', auction_id: a.id, request_id: m.request_id, seq: a.seq,
      data: { subscribed: s.subscriptions.has(a.id), ...snapshot(a) } }));
  };
}

function listAuctions(d: Pick<AuctionService, 'listAuctions'>): Handler<'list_auctions'> {
  return async (m, s) => {
    const q = m.data ?? { limit: 20 };
    const page = await d.listAuctions({ limit: q.limit, cursor: q.cursor, status: q.status });
    s.reply(message<'auction_list'>({ type: 'auction_list', request_id: m.request_id, data: auctionList(page) }));
  };
}

function listBids(d: Pick<AuctionService, 'getAuction' | 'bidsSince'>): Handler<'list_bids'> {
  return async (m, s) => {
    const q = m.data ?? { since_seq: 0, limit: 100 };
    if (!(await d.getAuction(m.auction_id))) return s.reply(notFound(m.request_id, m.auction_id));
    const rows = await d.bidsSince(m.auction_id, q.since_seq, q.limit);
    s.reply(message<'bid_list'>({ type: 'bid_list', auction_id: m.auction_id, request_id: m.request_id, data: bidList(rows, q.limit) }));
  };
}
