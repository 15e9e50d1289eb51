// A feed whose database reads fail or hang: no subscriber is left believing it is subscribed to nothing,
// and no read that never settles stalls the auction for the other sockets of the instance.
import t from 'tap';
import type { Sql } from 'postgres';
import { freshDb } from '../helpers/db.ts';
import { bid, makeAuction, makeUser } from '../helpers/fixtures.ts';
import { startInstance } from '../helpers/app.ts';
import { Feeds, type Outgoing } from '../../src/realtime/feeds.ts';
import { Connection } from '../../src/realtime/connection.ts';
import type { ListenHub } from '../../src/realtime/listen-hub.ts';

const db = await freshDb(t);
const inst = await startInstance(t, db.url);

// reads of the bid log fail, hang or pass, as the test says; everything else goes to the database
let bids: 'ok' | 'fail' | 'hang' = 'ok';
const sql = ((strings: TemplateStringsArray, ...args: unknown[]) => {
  if (strings.join('?').includes('from auction.bids b') && bids !== 'ok') {
    return bids === 'hang' ? new Promise(() => {}) : Promise.reject(new Error('connection cut'));
  }
  return (db.sql as unknown as (s: TemplateStringsArray, ...a: unknown[]) => Promise<unknown>)(strings, ...args);
}) as unknown as Sql;
const hub = { subscribe: async () => async () => {}, onResync: () => {} };
const feeds = new Feeds(sql, hub as unknown as ListenHub, inst.app.log);

const { id } = await makeAuction(db.sql, { startingPrice: '1.00', minIncrement: '1.00' });
const u = await makeUser(db.sql, 'ff-bidder');
for (const amount of ['1.00', '2.00', '3.00']) await bid(db.sql, id, u, amount);

type Sub = { send: (m: string | Outgoing) => void; resubscribe: (why: string) => void; got: number[]; told: string[] };
const subscriber = (): Sub => {
  const s: Sub = { got: [], told: [], send: (m) => { if (typeof m === 'string') s.got.push(JSON.parse(m).seq); }, resubscribe: (why) => { s.told.push(why); } };
  return s;
};

t.test('a replay cut short after the snapshot tells the subscriber to start over, and does not keep it', async (t) => {
  const s = subscriber();
  let snapshots = 0;
  bids = 'fail';
  await t.rejects(feeds.subscribe(id, s, () => { snapshots++; }, 0), /connection cut/);
  bids = 'ok';
  t.equal(snapshots, 1, 'the snapshot had gone out');
  t.same(s.told, ['the replay since since_seq failed']);
  // the same subscriber, resubscribing, gets the whole replay
  await feeds.subscribe(id, s, () => {}, 0);
  t.same(s.got, [1, 2, 3]);
  await feeds.unsubscribe(id, s);
});

t.test('a read that never settles fails its step after the deadline; the next subscriber is served', async (t) => {
  const stuck = subscriber();
  bids = 'hang';
  const started = Date.now();
  const first = feeds.subscribe(id, stuck, () => {}, 0);
  const second = subscriber();
  const next = feeds.subscribe(id, second, () => {}, 1); // queued behind the stuck step
  await t.rejects(first, /reading bids took over/);
  t.ok(Date.now() - started >= 4_000, 'after the read deadline');
  t.same(stuck.told, ['the replay since since_seq failed']);
  bids = 'ok';
  await next.catch(() => {}); // its own read may have started while the log still hung
  const third = subscriber();
  await feeds.subscribe(id, third, () => {}, 1);
  t.same(third.got, [2, 3], 'the feed is not stalled');
  await feeds.unsubscribe(id, second);
  await feeds.unsubscribe(id, third);
});

t.test('a socket told to start over is closed with 1013 (reconnect and resume)', async (t) => {
  let closed: [number, string] | undefined;
  const ws = { readyState: 1, OPEN: 1, extensions: '', bufferedAmount: 0, send: () => {}, close: (code: number, reason: string) => { closed = [code, reason]; } };
  const conn = new Connection(ws as never, 'u', { app: { config: { WS_RATE_BURST: 10, WS_MAX_BUFFERED_BYTES: 1024 }, log: inst.app.log }, feeds: {} } as never);
  conn.resubscribe('the replay since since_seq failed');
  t.equal(closed?.[0], 1013);
  t.match(closed?.[1], /resubscribe with since_seq/);
  t.ok(Buffer.byteLength(closed![1]) <= 123, 'a close reason fits its 123 bytes');
  t.equal(conn.isClosing, true);
});
