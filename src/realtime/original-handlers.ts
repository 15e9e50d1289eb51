// One handler per message type of the original dialect: the original server's behaviour over our domain.
// What it replies is built in protocol/original/render.ts; its texts are protocol/original/errors.ts's.
// A handler throws only for failures the session maps (database errors, deadlines).
import type { AuctionService } from '../domain/service.ts';
import { TEXT, originalText } from '../protocol/original/errors.ts';
import { auctionData, auctionList, originalError, originalMessage, subscription, type OriginalMessage } from '../protocol/original/render.ts';
import { exactAmount, goInt, parseGoUuid, type OriginalRequest, type OriginalRequestType } from '../protocol/original/requests.ts';
import { isRfc3339 } from '../protocol/requests.ts';
import { rejected } from '../protocol/render.ts';
import type { Feeds, FeedSubscription } from './feeds.ts';
import { dropSubscription, keepSubscription, type SessionContext } from './handlers.ts';

export type OriginalHandler = (m: OriginalRequest, s: SessionContext) => Promise<void>;
export type OriginalHandlers = Record<OriginalRequestType, OriginalHandler>;

export type OriginalDeps = {
  auctions: Pick<AuctionService, 'getAuction' | 'placeBid' | 'createAuction' | 'listAuctionsByOffset'>;
  feeds: Pick<Feeds, 'subscribe'>;
  maxSubscriptions: number;
};

/** The original's own fixed rule: any amount above the current price, to the cent. */
export const ORIGINAL_INCREMENT = '0.01';
/** list_auctions' page size when the client gives none (the original's) and at most (ours: it had no bound) */
const LIST_DEFAULT = 10;
const LIST_MAX = 100;

const send = (s: SessionContext, m: OriginalMessage) => s.sendText(JSON.stringify(m));

export function makeOriginalHandlers(d: OriginalDeps): OriginalHandlers {
  return {
    ping: async (_m, s) => send(s, originalMessage('pong')),
    subscribe: subscribe(d),
    unsubscribe: unsubscribe(),
    place_bid: placeBid(d.auctions),
    create_auction: createAuction(d.auctions),
    get_auction: getAuction(d.auctions),
    list_auctions: listAuctions(d.auctions),
  };
}

/** Subscribing again is confirmed again; an auction that does not exist is refused (the original confirmed any id). */
function subscribe(d: OriginalDeps): OriginalHandler {
  return async (m, s) => {
    const id = m.auction_id!;
    if (!(await dropSubscription(s, id)) && s.subscriptions.size >= d.maxSubscriptions) {
      return send(s, originalError(`at most ${d.maxSubscriptions} auctions per socket`, id));
    }
    const sub: FeedSubscription | undefined = await d.feeds.subscribe(id, s.subscriber, {
      onSnapshot: () => send(s, subscription(id, 'subscribed')),
    });
    if (!sub) return send(s, originalError(TEXT.auctionNotFound, id));
    await keepSubscription(s, id, sub);
  };
}

/** Confirmed whether or not the socket watched it, as the original did. */
function unsubscribe(): OriginalHandler {
  return async (m, s) => {
    const id = m.auction_id!;
    await dropSubscription(s, id);
    send(s, subscription(id, 'unsubscribed'));
  };
}

/**
 * The original's checks first (the socket must watch the auction; the first bid must be above the starting
 * price), then ours in the database. An accepted bid has no reply of its own: the bidder hears its bid_placed
 * with every other subscriber.
 */
function placeBid(d: OriginalDeps['auctions']): OriginalHandler {
  return async (m, s) => {
    const id = m.auction_id!;
    if (!s.subscriptions.has(id)) return send(s, originalError(TEXT.notSubscribed, id));
    const amount = exactAmount(m.data.amount as number);
    if (amount === undefined) return send(s, originalError(`${TEXT.validAmountRequired}: at most two decimals, below 10^10`, id));
    const a = await d.getAuction(id);
    if (!a) return send(s, originalError(TEXT.auctionNotFound, id));
    if (a.seq === 0 && Number(amount) <= Number(a.starting_price) && a.status !== 'ended' && a.status !== 'cancelled') {
      return send(s, originalError(TEXT.bidBelowStarting, id));
    }
    const r = await d.placeBid({ auctionId: id, userId: s.userId, amount });
    if (r.accepted) return;
    const { data, message } = rejected(r, { amount });
    // above the price yet too low is our increment's rule (an auction created in our dialect): say what is needed
    const ours = data.reason === 'too_low' && Number(amount) > Number(r.current_price ?? 'Infinity');
    send(s, originalError(ours ? message : originalText(data.reason, message), id));
  };
}

/**
 * The original's create_auction: an existing item (operator-seeded, or the user's own), start and end times,
 * a starting price; its auctions get the original's rule (a 0.01 increment) unless `min_increment` or
 * `increment_table` says otherwise.
 */
function createAuction(d: OriginalDeps['auctions']): OriginalHandler {
  return async (m, s) => {
    const x = m.data;
    if (typeof x.item_id !== 'string') return send(s, originalError(TEXT.itemIdRequired));
    const item = parseGoUuid(x.item_id);
    if ('error' in item) return send(s, originalError(TEXT.invalidItemIdFormat));
    if (typeof x.start_time !== 'string') return send(s, originalError(TEXT.startTimeRequired));
    if (typeof x.end_time !== 'string') return send(s, originalError(TEXT.endTimeRequired));
    if (typeof x.starting_price !== 'number') return send(s, originalError(TEXT.startingPriceRequired));
    if (!isRfc3339(x.start_time) || !isRfc3339(x.end_time)) return send(s, originalError(TEXT.invalidTimeFormat));
    const start = Date.parse(x.start_time);
    const end = Date.parse(x.end_time);
    if (start < Date.now()) return send(s, originalError(TEXT.startInPast));
    if (end <= start) return send(s, originalError(TEXT.endBeforeStart));
    if (x.starting_price <= 0) return send(s, originalError(TEXT.startingPriceInvalid));
    const startingPrice = exactAmount(x.starting_price);
    if (startingPrice === undefined) return send(s, originalError(`${TEXT.invalidRequest}: starting_price has at most two decimals and is below 10^10`));
    const rule = incrementRule(x);
    if ('error' in rule) return send(s, originalError(rule.error));
    const a = await d.createAuction({
      creatorId: s.userId, itemId: item.uuid, startTime: x.start_time, endTime: x.end_time, startingPrice, ...rule,
    });
    send(s, originalMessage('auction_created', { data: auctionData(a) }));
  };
}

type Rule = { minIncrement?: string; incrementTable?: { below?: number; step: number }[] };

/** Our increment fields, when an original-dialect client gives them; otherwise the original's fixed 0.01. */
function incrementRule(x: Record<string, unknown>): Rule | { error: string } {
  if (x.min_increment != null && x.increment_table != null) return { error: `${TEXT.invalidRequest}: give min_increment or increment_table, not both` };
  if (x.increment_table != null) {
    const t = x.increment_table;
    const ok = Array.isArray(t) && t.length > 0 && t.length <= 50 && t.every((r) => typeof r === 'object' && r !== null
      && exactAmount((r as { step: number }).step) !== undefined
      && ((r as { below?: unknown }).below === undefined || exactAmount((r as { below: number }).below) !== undefined));
    if (!ok) return { error: `${TEXT.invalidRequest}: increment_table is a list of {below?, step}` };
    return { incrementTable: (t as { below?: number; step: number }[]).map((r) => (r.below === undefined ? { step: r.step } : { below: r.below, step: r.step })) };
  }
  if (x.min_increment != null) {
    const inc = typeof x.min_increment === 'number' ? exactAmount(x.min_increment) : undefined;
    return inc ? { minIncrement: inc } : { error: `${TEXT.invalidRequest}: min_increment is a positive amount` };
  }
  return { minIncrement: ORIGINAL_INCREMENT };
}

function getAuction(d: OriginalDeps['auctions']): OriginalHandler {
  return async (m, s) => {
    const id = m.auction_id!;
    const a = await d.getAuction(id);
    if (!a) return send(s, originalError(TEXT.auctionNotFound, id));
    send(s, originalMessage('auction_update', { auctionId: id, data: auctionData(a) }));
  };
}

/** Newest first; the offset is taken as the original did (to a whole page: page = offset / limit + 1). */
function listAuctions(d: OriginalDeps['auctions']): OriginalHandler {
  return async (m, s) => {
    const asked = goInt(m.data.limit) ?? LIST_DEFAULT;
    const offset = goInt(m.data.offset) ?? 0;
    const limit = Math.min(asked > 0 ? asked : LIST_DEFAULT, LIST_MAX);
    const page = Math.max(1, Math.trunc(offset / (asked === 0 ? LIST_DEFAULT : asked)) + 1);
    const rows = await d.listAuctionsByOffset({ limit, offset: (page - 1) * limit });
    send(s, auctionList(rows));
  };
}
