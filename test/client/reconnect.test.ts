import t from 'tap';
import { freshDb } from '../helpers/db.ts';
import { startInstance, type Instance } from '../helpers/app.ts';
import type { ClientEvents } from '../../src/client/index.ts';
import { clientFor, tappedSocket } from './helpers.ts';
import { auctionInput } from '../helpers/fixtures.ts';
import { until } from '../helpers/wait.ts';

const db = await freshDb(t);
const a = await startInstance(t, db.url);

/** The server side of a user's sockets on an instance. */
function serverSockets(inst: Instance, userId: string) {
  return [...inst.app.connections].filter((c) => c.userId === userId);
}

function recordBids(c: { on: (type: 'bid_placed', cb: (e: ClientEvents['bid_placed']) => void) => () => void }) {
  const seqs = new Map<string, number[]>();
  c.on('bid_placed', (e) => {
    const list = seqs.get(e.auction_id) ?? [];
    list.push(e.seq!);
    seqs.set(e.auction_id, list);
  });
  return seqs;
}

const upTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

t.test('sockets killed server-side (terminate, 4008) while bids go on: resumed by seq, nothing lost or repeated', async (t) => {
  const seller = await clientFor(t, a.ws, 'seller');
  const bidder = await clientFor(t, a.ws, 'bidder');
  // reconnecting takes 150-300 ms, so bids land while the watcher is away
  const watcher = await clientFor(t, a.ws, 'watcher', { backoff: { initialMs: 300, maxMs: 300 } });
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push((await seller.createAuction(auctionInput())).auction_id);
  for (const id of ids) await watcher.subscribe(id).ready;
  const seqs = recordBids(watcher);
  let replayed = 0; // bids the resumed subscriptions had to replay
  watcher.on('auction_update', (e) => {
    if (e.data.subscribed && watcher.lastSeq(e.auction_id) !== undefined) replayed += e.data.seq - watcher.lastSeq(e.auction_id)!;
  });
  const reconnects: number[] = [];
  watcher.on('disconnected', (e) => reconnects.push(e.code));

  let stop = false;
  let rounds = 0;
  const bidding = (async () => {
    while (!stop) {
      await Promise.all(ids.map((id) => bidder.bid(id, 10 + rounds)));
      rounds++;
      await new Promise((r) => setTimeout(r, 50)); // under WS_RATE_LIMIT_PER_SEC
    }
  })();
  // six kills, each once the watcher is back and a few more bids went by
  for (let k = 0; k < 6; k++) {
    const after = rounds + 2;
    await until(() => rounds >= after, { timeoutMs: 10_000, what: 'bids' });
    await until(() => watcher.state === 'open' && serverSockets(a, watcher.userId).length === 1, { timeoutMs: 5000, what: 'watcher back' });
    const [conn] = serverSockets(a, watcher.userId);
    if (k % 2 === 0) conn.terminate();
    else conn.close(4008, 'slow consumer: resubscribe with since_seq');
  }
  const last = rounds + 2;
  await until(() => rounds >= last, { timeoutMs: 10_000, what: 'bids' });
  stop = true;
  await bidding;
  t.ok(rounds >= 14, `${rounds} bids per auction`);
  await until(() => ids.every((id) => (seqs.get(id)?.length ?? 0) >= rounds), { timeoutMs: 10_000, what: 'every bid' });
  await watcher.ping(); // anything still on its way was sent before this pong
  for (const id of ids) t.same(seqs.get(id), upTo(rounds), 'every seq once, in order');
  t.ok(replayed > 0, `${replayed} bids replayed after reconnects`);
  t.equal(reconnects.length, 6);
  t.ok(reconnects.includes(4008) && reconnects.includes(1006), `close codes ${reconnects}`);
  t.same(watcher.subscriptions, ids);
});

t.test('an instance shutting down (1001): the client moves to another instance and resumes', async (t) => {
  const b = await startInstance(t, db.url);
  const c = await startInstance(t, db.url);
  let target = b;
  const seller = await clientFor(t, c.ws, 'seller2');
  const bidder = await clientFor(t, c.ws, 'bidder2');
  const watcher = await clientFor(t, () => target.ws, 'watcher2');
  const { auction_id: id } = await seller.createAuction(auctionInput());
  await watcher.subscribe(id).ready;
  const seqs = recordBids(watcher);
  const codes: number[] = [];
  watcher.on('disconnected', (e) => codes.push(e.code));
  for (let i = 0; i < 5; i++) await bidder.bid(id, 10 + i);
  await until(() => seqs.get(id)?.length === 5);
  target = c;
  const closing = b.close();
  for (let i = 5; i < 15; i++) await bidder.bid(id, 10 + i);
  await closing;
  await until(() => seqs.get(id)?.length === 15, { timeoutMs: 10_000, what: 'all 15 bids' });
  t.same(seqs.get(id), upTo(15));
  t.same(codes, [1001]);
  t.equal(serverSockets(c, watcher.userId).length, 1, 'now on the other instance');
});

t.test('a bid whose reply was lost is re-sent with the same request_id: placed once', async (t) => {
  const seller = await clientFor(t, a.ws, 'seller3');
  const { auction_id: id } = await seller.createAuction(auctionInput());
  let dropped = 0;
  const bidder = await clientFor(t, a.ws, 'bidder3', { WebSocket: tappedSocket({
    receive: (m) => {
      if (m.type === 'bid_accepted' && m.request_id === 'lost-reply' && dropped++ === 0) {
        // the bid committed, but the socket dies before its reply arrives
        for (const conn of serverSockets(a, bidder.userId)) conn.terminate();
        return undefined;
      }
      return m;
    },
  }) });
  const r = await bidder.bid(id, 25, { requestId: 'lost-reply' });
  t.equal(dropped, 2, 'the reply came twice: lost, then after the re-send');
  t.match(r, { amount: 25, seq: 1, duplicate: true });
  const [{ n }] = await db.sql`select count(*)::int as n from auction.bids where auction_id = ${id}`;
  t.equal(n, 1, 'one bid in the database');
});

t.test('a bid that never left is sent after the reconnect; bids made while down are queued', async (t) => {
  const seller = await clientFor(t, a.ws, 'seller4');
  const { auction_id: id } = await seller.createAuction(auctionInput());
  let swallow = true;
  let swallowed = 0;
  const bidder = await clientFor(t, a.ws, 'bidder4', { WebSocket: tappedSocket({
    send: (f) => !(f.type === 'place_bid' && swallow && ++swallowed),
  }) });
  const first = bidder.bid(id, 30);
  t.equal(swallowed, 1, 'the bid was sent, and never left');
  swallow = false;
  const reconnected = new Promise((resolve) => bidder.once('connected', resolve));
  for (const conn of serverSockets(a, bidder.userId)) conn.terminate();
  await until(() => bidder.state === 'reconnecting');
  const second = bidder.bid(id, 31); // queued while down
  t.match(await reconnected, { reconnect: true });
  t.match(await first, { amount: 30, seq: 1, duplicate: false });
  t.match(await second, { amount: 31, seq: 2, duplicate: false });
});

t.test('status changes missed while down are derived from the resumed snapshot, after the replayed bids', async (t) => {
  const seller = await clientFor(t, a.ws, 'seller5');
  const bidder = await clientFor(t, a.ws, 'bidder5');
  const { auction_id: id } = await seller.createAuction(auctionInput());
  let down = false;
  const watcher = await clientFor(t, () => (down ? 'ws://127.0.0.1:1/ws' : a.ws), 'watcher5');
  const events: string[] = [];
  for (const type of ['bid_placed', 'auction_extended', 'auction_ended'] as const) {
    watcher.on(type, (e) => events.push(`${e.type}:${e.seq}${e.resumed ? ':resumed' : ''}`));
  }
  const sub = watcher.subscribe(id);
  const onSub: string[] = []; // the subscription's own events say the same
  sub.on('bid', (e) => onSub.push(`${e.type}:${e.seq}`));
  sub.on('status', (e) => { if (e.type !== 'auction_started') onSub.push(`${e.type}:${e.seq}${e.resumed ? ':resumed' : ''}`); });
  await sub.ready;
  await bidder.bid(id, 10);
  await until(() => events.length === 1);
  down = true;
  for (const conn of serverSockets(a, watcher.userId)) conn.terminate();
  await until(() => watcher.state === 'reconnecting');
  await bidder.bid(id, 11);
  await bidder.bid(id, 12);
  await db.sql`select auction.end_auction(${id})`;
  down = false;
  await until(() => events.includes('auction_ended:3:resumed'), { timeoutMs: 10_000, what: 'the derived end' });
  t.same(events, ['bid_placed:1', 'bid_placed:2', 'bid_placed:3', 'auction_ended:3:resumed']);
  t.same(onSub, events);
  t.equal(sub.state, 'subscribed', 'it resumed itself');
});

t.test('4029 waits rateLimitedDelayMs before reconnecting', async (t) => {
  const r = await clientFor(t, a.ws, 'ratelimited', { rateLimitedDelayMs: 600 });
  const rDown = new Promise<ClientEvents['disconnected']>((resolve) => r.once('disconnected', resolve));
  const t0 = Date.now();
  serverSockets(a, r.userId)[0].close(4029, 'rate limit exceeded');
  const d = await rDown;
  t.match(d, { code: 4029, willReconnect: true });
  t.ok(d.delayMs! >= 600);
  await new Promise((resolve) => r.once('connected', resolve));
  t.ok(Date.now() - t0 >= 550, 'waited before reconnecting');
});
