// A feed whose database reads fail or hang: no subscriber is left believing it is subscribed to nothing,
// and no read that never settles stalls the auction for the other sockets of the instance.
import t from 'tap';
import pino from 'pino';
import { freshDb } from '../helpers/db.ts';
import { bid, makeAuction, makeUser } from '../helpers/fixtures.ts';
import { auctionService } from '../../src/domain/service.ts';
import { Feeds, type ChannelHub, type FeedSource, type Subscriber } from '../../src/realtime/feeds.ts';
import { originalDialect, ourDialect } from '../../src/realtime/dialect.ts';
import { makeOriginalHandlers } from '../../src/realtime/original-handlers.ts';
import { makeHandlers } from '../../src/realtime/handlers.ts';
import { Session } from '../../src/realtime/session.ts';
import { SocketTransport } from '../../src/realtime/transport.ts';
import { fakeSocket } from '../helpers/sockets.ts';

const db = await freshDb(t);
const log = pino({ level: 'silent' });
const auctions = auctionService({ sql: db.sql, db: db.db, schedule: async () => {}, batch: { maxBatch: 8, concurrency: 1, timeoutMs: 5000 } });

// reads of the bid log fail, hang or pass, as the test says; the auction itself is always read
let bids: 'ok' | 'fail' | 'hang' = 'ok';
const source: FeedSource = {
  getAuction: (id) => auctions.getAuction(id),
  bidsSince: (id, after, limit) => bids === 'ok' ? auctions.bidsSince(id, after, limit)
    : bids === 'hang' ? new Promise(() => {}) : Promise.reject(new Error('connection cut')),
  userName: (id) => auctions.userName(id),
};
const hub: ChannelHub = { subscribe: async () => async () => {}, onResync: () => {} };
const READ_DEADLINE_MS = 200;
const feeds = new Feeds(source, hub, log, { readDeadlineMs: READ_DEADLINE_MS });

const { id } = await makeAuction(db.sql, { startingPrice: '1.00', minIncrement: '1.00' });
const u = await makeUser(db.sql, 'ff-bidder');
for (const amount of ['1.00', '2.00', '3.00']) await bid(db.sql, id, u, amount);

type Sub = Subscriber & { got: number[]; told: string[] };
const subscriber = (): Sub => {
  const s: Sub = { got: [], told: [], send: (m) => { if (typeof m === 'string') s.got.push(JSON.parse(m).seq); }, resubscribe: (why) => { s.told.push(why); } };
  return s;
};

t.test('a replay cut short after the snapshot tells the subscriber to start over, and does not keep it', async (t) => {
  const s = subscriber();
  let snapshots = 0;
  bids = 'fail';
  await t.rejects(feeds.subscribe(id, s, { onSnapshot: () => { snapshots++; }, sinceSeq: 0 }), /connection cut/);
  bids = 'ok';
  t.equal(snapshots, 1, 'the snapshot had gone out');
  t.same(s.told, ['the replay since since_seq failed']);
  t.equal(feeds.size, 0, 'no feed kept for it');
  // the same subscriber, resubscribing, gets the whole replay
  const handle = await feeds.subscribe(id, s, { onSnapshot: () => {}, sinceSeq: 0 });
  t.same(s.got, [1, 2, 3]);
  await handle!.unsubscribe();
});

t.test('a read that never settles fails its step after the read deadline; the next subscriber is served', async (t) => {
  const stuck = subscriber();
  bids = 'hang';
  const first = feeds.subscribe(id, stuck, { onSnapshot: () => {}, sinceSeq: 0 });
  const second = subscriber();
  const next = feeds.subscribe(id, second, { onSnapshot: () => {}, sinceSeq: 1 }); // queued behind the stuck step
  await t.rejects(first, new RegExp(`reading bids took over ${READ_DEADLINE_MS} ms`));
  t.same(stuck.told, ['the replay since since_seq failed']);
  bids = 'ok';
  const held = await next.catch(() => undefined); // its own read may have started while the log still hung
  const third = subscriber();
  const handle = await feeds.subscribe(id, third, { onSnapshot: () => {}, sinceSeq: 1 });
  t.same(third.got, [2, 3], 'the feed is not stalled');
  await held?.unsubscribe();
  await handle!.unsubscribe();
});

// this test sends no authenticate message
const refuseTokens = async (): Promise<never> => { throw new Error('no tokens in this test'); };

t.test('a socket whose replay broke after its snapshot is closed with 1013 (reconnect and resume)', async (t) => {
  const ws = fakeSocket();
  const session = new Session(new SocketTransport(ws, { maxBufferedBytes: 1 << 20, ratePerSec: 100, burst: 100 }), u, {
    dialects: {
      auction: ourDialect(makeHandlers({ auctions, feeds, maxSubscriptions: 10, verifyToken: refuseTokens })),
      original: originalDialect(makeOriginalHandlers({ auctions, feeds, maxSubscriptions: 10 })),
    }, hub, userName: auctions.userName, log, requestTimeoutMs: 5000, ratePerSec: 100,
    userRatePerSec: 100, takeUserMessage: () => true, replayRowsPerSec: 1000, replayBurst: 1000,
  });
  bids = 'fail';
  await session.onFrame(Buffer.from(JSON.stringify({ type: 'subscribe', auction_id: id, request_id: 's1', data: { since_seq: 0 } })), false);
  bids = 'ok';
  t.match(JSON.parse(ws.sent[0]), { type: 'auction_update', request_id: 's1', data: { subscribed: true } }, 'the snapshot went out');
  t.equal(ws.closed?.[0], 1013);
  t.match(ws.closed?.[1], /resubscribe with since_seq/);
  t.ok(Buffer.byteLength(ws.closed![1]) <= 123, 'a close reason fits its 123 bytes');
  t.equal(session.subscriptions.size, 0, 'and it holds no subscription');
  await session.end();
});
