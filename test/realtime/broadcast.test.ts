// What fan-out costs per event and per idle socket: one serialization per event whatever the number of
// subscribers, the same frame bytes to each, the slow-consumer bound on that path, the user's own channel from
// the first frame on, and no upgrade request kept alive by an open socket.
import t from 'tap';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { IncomingMessage } from 'node:http';
import * as ws from 'ws';
import { freshDb } from '../helpers/db.ts';
import { connectClient, startInstance } from '../helpers/app.ts';
import { metrics } from '../../src/metrics.ts';
import { Feeds, type ChannelHub, type Subscriber } from '../../src/realtime/feeds.ts';
import { Outgoing, textFrame } from '../../src/realtime/frames.ts';
import { SocketTransport } from '../../src/realtime/transport.ts';
import { fakeSocket } from '../helpers/sockets.ts';
import { makeAuction } from '../helpers/fixtures.ts';
import { until } from '../helpers/wait.ts';

const db = await freshDb(t);
const inst = await startInstance(t, db.url);
const count = async (c: typeof metrics.fanoutMessages) => (await c.get()).values[0]?.value ?? 0;

t.test('a bid is serialized once for all local subscribers, and each gets the same bytes', async (t) => {
  const seller = await connectClient(t, inst, 'b-seller');
  const bidder = await connectClient(t, inst, 'b-bidder');
  const watchers = await Promise.all([1, 2, 3, 4, 5].map((i) => connectClient(t, inst, `b-watcher-${i}`)));
  const id = await seller.createAuction({ startingPrice: 1 });
  for (const w of watchers) await w.request({ type: 'subscribe', auction_id: id });
  const raw = watchers.map(() => [] as string[]);
  watchers.forEach((w, i) => w.ws.on('message', (d) => raw[i].push(d.toString())));
  // the first bid may also start the auction (one more event): count from the second on
  await bidder.request({ type: 'place_bid', auction_id: id, data: { amount: 2 } });
  for (const w of watchers) await w.next((m) => m.type === 'bid_placed' && m.seq === 1);
  const [m0, s0] = [await count(metrics.fanoutMessages), await count(metrics.fanoutSends)];
  await bidder.request({ type: 'place_bid', auction_id: id, data: { amount: 3 } });
  for (const w of watchers) await w.next((m) => m.type === 'bid_placed' && m.seq === 2);
  t.equal(await count(metrics.fanoutMessages) - m0, 1, 'one serialization');
  t.equal(await count(metrics.fanoutSends) - s0, watchers.length, 'one send per subscriber');
  const frames = raw.map((r) => r.find((x) => x.includes('"seq":2,')));
  t.ok(frames[0]);
  t.ok(frames.every((f) => f === frames[0]), 'identical bytes');
  t.match(JSON.parse(frames[0]!), { type: 'bid_placed', auction_id: id, seq: 2, data: { amount: 3, user_id: bidder.userId } });
});

t.test('notifications that arrive before the feed takes its next step go out together: one write per socket', async (t) => {
  // a hub that records the handler instead of LISTENing, so the test decides when notifications arrive
  const handlers = new Map<string, (payload: string) => void>();
  const hub: ChannelHub = { subscribe: async (c, h) => { handlers.set(c, h); return async () => {}; }, onResync: () => {} };
  const feeds = new Feeds(inst.app.auctions, hub, inst.app.log);
  const { id } = await makeAuction(db.sql);
  const writes: Outgoing[] = [];
  let wrote: () => void = () => {};
  const sub: Subscriber = {
    send: (m) => { if (typeof m !== 'string') { writes.push(m); wrote(); } },
    resubscribe: () => t.fail('resubscribe'),
  };
  const nextWrite = () => new Promise<void>((resolve) => { wrote = resolve; });
  const handle = await feeds.subscribe(id, sub, { onSnapshot: () => {} });
  t.ok(handle);
  const notify = (seq: number) => handlers.get(`auction:${id}`)!(JSON.stringify({
    type: 'bid_placed', auction_id: id, seq, bid_id: `00000000-0000-4000-8000-00000000000${seq}`, user_id: '00000000-0000-4000-8000-000000000001',
    amount: `${10 + seq}.00`, kind: 'bid', reserve_met: true, min_next_bid: `${11 + seq}.00`, buy_now_price: null, time: new Date().toISOString() }));
  let written = nextWrite();
  notify(1);
  notify(2);
  notify(3);
  await written;
  written = nextWrite();
  notify(4);
  await written;
  t.same(writes.map((w) => w.texts.map((x) => JSON.parse(x).seq)), [[1, 2, 3], [4]], 'three in one write, then one');
  // the batch is frames back to back: a client reads three messages from it
  const { Receiver } = ws as unknown as { Receiver: new (o: { isServer: boolean }) => import('node:stream').Writable };
  const got: number[] = [];
  const r = new Receiver({ isServer: false });
  r.on('message', (d: Buffer) => got.push(JSON.parse(d.toString()).seq));
  r.write(writes[0].frame);
  t.same(got, [1, 2, 3]);
  await handle!.unsubscribe();
  t.equal(feeds.size, 0, 'the last member gone, the feed is dropped');
});

t.test('a notification that arrives during a pass over many sockets joins it: no socket waits for a second pass', async (t) => {
  const handlers = new Map<string, (payload: string) => void>();
  const hub: ChannelHub = { subscribe: async (c, h) => { handlers.set(c, h); return async () => {}; }, onResync: () => {} };
  const feeds = new Feeds(inst.app.auctions, hub, inst.app.log);
  const { id } = await makeAuction(db.sql);
  const notify = (seq: number) => handlers.get(`auction:${id}`)!(JSON.stringify({
    type: 'bid_placed', auction_id: id, seq, bid_id: `00000000-0000-4000-8000-00000000000${seq}`, user_id: '00000000-0000-4000-8000-000000000001',
    amount: `${10 + seq}.00`, kind: 'bid', reserve_met: true, min_next_bid: `${11 + seq}.00`, buy_now_price: null, time: new Date().toISOString() }));
  // enough members for several slices of the pass; the second bid is notified as the first member is written
  const N = 1000;
  const writes: number[][][] = Array.from({ length: N }, () => []);
  let done: () => void = () => {};
  const all = new Promise<void>((resolve) => { done = resolve; });
  let complete = 0;
  const handles = [];
  for (let i = 0; i < N; i++) {
    handles.push(await feeds.subscribe(id, {
      send: (m) => {
        if (typeof m === 'string') return;
        writes[i].push(m.texts.map((x) => JSON.parse(x).seq));
        if (i === 0 && writes[0].length === 1) notify(2);
        if (writes[i].flat().length === 2 && ++complete === N) done();
      },
      resubscribe: () => t.fail('resubscribe'),
    }, { onSnapshot: () => {} }));
  }
  notify(1);
  await all;
  t.ok(writes.every((w) => w.flat().join() === '1,2'), 'every member got seq 1 then 2');
  t.same(writes[0], [[1], [2]], 'the first member, written before seq 2 came, gets it in a second write');
  t.same(writes[N - 1], [[1, 2]], 'the last member gets both in the one write of the first pass');
  for (const h of handles) await h!.unsubscribe();
});

t.test('with WS_BROADCAST_COALESCE_MS a notification waits for the window, and what came in it goes out in one write', async (t) => {
  const handlers = new Map<string, (payload: string) => void>();
  const hub: ChannelHub = { subscribe: async (c, h) => { handlers.set(c, h); return async () => {}; }, onResync: () => {} };
  // the window's clock is the test's: it closes when the test says so
  const windows: { fn: () => void; ms: number }[] = [];
  const feeds = new Feeds(inst.app.auctions, hub, inst.app.log, { coalesceMs: 25, timer: (fn, ms) => windows.push({ fn, ms }) });
  const { id } = await makeAuction(db.sql);
  const writes: Outgoing[] = [];
  let wrote: () => void = () => {};
  const sub: Subscriber = { send: (m) => { if (typeof m !== 'string') { writes.push(m); wrote(); } }, resubscribe: () => t.fail('resubscribe') };
  const handle = await feeds.subscribe(id, sub, { onSnapshot: () => {} });
  const notify = (seq: number) => handlers.get(`auction:${id}`)!(JSON.stringify({
    type: 'bid_placed', auction_id: id, seq, bid_id: `00000000-0000-4000-8000-00000000000${seq}`, user_id: '00000000-0000-4000-8000-000000000001',
    amount: `${10 + seq}.00`, kind: 'bid', reserve_met: true, min_next_bid: `${11 + seq}.00`, buy_now_price: null, time: new Date().toISOString() }));
  notify(1);
  // turns of the event loop pass: without the window closing nothing is written
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  notify(2);
  t.same(writes, [], 'nothing written while the window is open');
  t.same(windows.map((w) => w.ms), [25], 'one window for both notifications');
  const written = new Promise<void>((resolve) => { wrote = resolve; });
  windows[0].fn();
  await written;
  t.same(writes.map((w) => w.texts.map((x) => JSON.parse(x).seq)), [[1, 2]], 'both in one write');
  await handle!.unsubscribe();
});

t.test('an instance started with WS_BROADCAST_COALESCE_MS delivers every bid, in order', async (t) => {
  const coalescing = await startInstance(t, db.url, { WS_BROADCAST_COALESCE_MS: '20' });
  const seller = await connectClient(t, coalescing, 'c-seller');
  const bidder = await connectClient(t, coalescing, 'c-bidder');
  const watcher = await connectClient(t, coalescing, 'c-watcher');
  const id = await seller.createAuction({ startingPrice: 1 });
  await watcher.request({ type: 'subscribe', auction_id: id });
  await Promise.all([2, 4, 6, 8, 10].map((amount) => bidder.send({ type: 'place_bid', auction_id: id, data: { amount } })));
  await watcher.next((m) => m.type === 'bid_placed' && m.seq === 5);
  t.same(watcher.bids(id).map((m) => m.seq), [1, 2, 3, 4, 5]);
});

t.test('textFrame is a valid unmasked text frame at every length encoding', async (t) => {
  // ws's frame parser (exported, though @types/ws does not declare it)
  const { Receiver } = ws as unknown as { Receiver: new (o: { isServer: boolean }) => import('node:stream').Writable };
  for (const n of [0, 1, 125, 126, 200, 65535, 65536, 70_000]) { // payload bytes: 7-bit, 16-bit and 64-bit lengths
    const text = n < 9 ? 'x'.repeat(n) : 'é€😀' + 'x'.repeat(n - 9);
    const got = await new Promise<string>((resolve, reject) => {
      const r = new Receiver({ isServer: false });
      r.on('message', (data: Buffer, isBinary: boolean) => (isBinary ? reject(new Error('binary')) : resolve(data.toString())));
      r.on('error', reject);
      r.write(textFrame(text));
    });
    t.equal(got, text, `${Buffer.byteLength(text)} bytes`);
  }
});

t.test('a broadcast to a socket over WS_MAX_BUFFERED_BYTES closes it with 4008 instead of writing', async (t) => {
  const written: Buffer[] = [];
  const ws = fakeSocket({ send: () => t.fail('a broadcast goes to the TCP socket, not ws.send') });
  const transport = new SocketTransport(ws, { maxBufferedBytes: 1024, ratePerSec: 10, burst: 10 }, { write: (b: Buffer) => { written.push(b); return true; } });
  const out = new Outgoing({ type: 'pong', timestamp: 0 });
  transport.send(out);
  t.same(written, [out.frame], 'under the bound: the shared frame, written as is');
  ws.bufferedAmount = 1025;
  transport.send(out);
  t.equal(ws.closed?.[0], 4008);
  t.equal(written.length, 1);
  t.equal(transport.isClosing, true);
});

t.test("the user's own channel: from a socket's first frame on, not before", async (t) => {
  const seller = await connectClient(t, inst, 'p-seller');
  const id = await seller.createAuction({ startingPrice: 1 });
  const pinged = await connectClient(t, inst, 'p-seller'); // a second socket of the same user: one ping
  await pinged.request({ type: 'ping' });
  const silent = await connectClient(t, inst, 'p-seller'); // and a third that never speaks
  await db.sql`select auction.end_auction(${id})`;
  for (const c of [seller, pinged]) t.match(await c.next((m) => m.type === 'auction_ended' && m.auction_id === id), { data: { status: 'ended' } });
  // its ping starts its own channel only now: had it listened before, the end would be in before the pong
  await silent.settled();
  t.same(silent.messages.filter((m) => m.auction_id === id), [], 'a silent socket hears only what it subscribes to');
});

t.test('a first frame that is a bid hears the outbid that follows it', async (t) => {
  const seller = await connectClient(t, inst, 'o-seller');
  const id = await seller.createAuction({ startingPrice: 1 });
  const bob = await connectClient(t, inst, 'o-bob');
  const carol = await connectClient(t, inst, 'o-carol');
  t.match(await bob.request({ type: 'place_bid', auction_id: id, data: { amount: 5 } }), { type: 'bid_accepted' });
  t.match(await carol.request({ type: 'place_bid', auction_id: id, data: { amount: 9 } }), { type: 'bid_accepted' });
  t.match(await bob.next((m) => m.type === 'outbid' && m.auction_id === id), { data: { current_price: 9 } });
});

t.test('an open socket does not keep its upgrade request alive', async (t) => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const refs: WeakRef<IncomingMessage>[] = [];
  const onUpgrade = (req: IncomingMessage) => refs.push(new WeakRef(req));
  inst.app.server.on('upgrade', onUpgrade);
  t.teardown(() => { inst.app.server.off('upgrade', onUpgrade); });
  const c = await connectClient(t, inst, 'gc-watcher');
  t.match(await c.request({ type: 'ping' }), { type: 'pong' });
  t.equal(refs.length, 1);
  await until(() => { gc(); return refs[0].deref() === undefined; }, { what: 'the upgrade request to be collected', pollMs: 20, timeoutMs: 2000 });
  t.equal(refs[0].deref(), undefined, 'collected while the socket is open');
  t.match(await c.request({ type: 'ping' }), { type: 'pong' }, 'and the socket still works');
});
