// Load generator: `count` WebSocket clients (each its own user and token) that connect, subscribe and
// then only listen. Each bid_placed received is timed against its commit time (data.time).
// Used for fan-out (all on one auction), idle sockets (no subscription) and many channels (a slice each).
import WebSocket from 'ws';
import { mintToken } from '../src/auth/tokens.ts';
import { BENCH_SECRET, Hist, ISSUER, childMain, connectAll, measureUntilStopped, type HistJson } from './lib.ts';

type Params = {
  urls: string[];
  count: number;
  firstUser: number;
  localAddress?: string;
  auctions: string[];
  perSocket: number; // 0: no subscription; otherwise every socket subscribes to auctions[0, perSocket) unless slice is set
  slice: boolean; // socket k subscribes to auctions[k*perSocket, (k+1)*perSocket)
  connectConcurrency: number;
  setupLimitMs: number;
  holdMs: number;
};
export type WatchResult = { connected: number; failed: number; firstError?: string; deliveries: number; latency: HistJson; closedEarly: number;
  cpuSeconds?: number; runMs?: number }; // the last two added by childMain
// A watcher process answers {type:'count'} with {deliveries} so far and {type:'phase'} with {deliveries, latency, sample}
// since the last phase (sample: one bid_placed message as received, which the fan-out anchors send as is), then starts afresh.

// A bid_placed is timed without parsing the whole message: at 10,000 sockets the generators must not be what
// falls behind. The server writes "type" first (messages.ts); "time" is the bid's commit time.
const BID = Buffer.from('{"type":"bid_placed"');
const TIME = Buffer.from('"time":"');
function bidTime(raw: Buffer): number | undefined {
  if (raw.length < BID.length || raw.compare(BID, 0, BID.length, 0, BID.length) !== 0) return undefined;
  const at = raw.indexOf(TIME);
  const from = at + TIME.length;
  const t = at < 0 ? NaN : Date.parse(raw.toString('latin1', from, raw.indexOf(0x22, from)));
  if (Number.isNaN(t)) throw new Error(`bid_placed without a readable time: ${raw.toString().slice(0, 300)}`);
  return t;
}

await childMain<Params, WatchResult>(async (p) => {
  const secret = new TextEncoder().encode(BENCH_SECRET);
  let latency = new Hist();
  let deliveries = 0;
  let closedEarly = 0;
  let measuring = false;
  let sample: string | undefined;
  const sockets: WebSocket[] = [];
  const setupDeadline = Date.now() + p.setupLimitMs;

  const one = async (k: number) => {
    const { token } = await mintToken({ secret, issuer: ISSUER, audience: ISSUER, user: `bench-watcher-${p.firstUser + k}` });
    const ws = new WebSocket(`${p.urls[k % p.urls.length]}?token=${token}`, { perMessageDeflate: false, localAddress: p.localAddress });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('connect timed out')), 30_000);
      ws.once('open', () => { clearTimeout(timer); resolve(); });
      ws.once('unexpected-response', (_q, res) => { clearTimeout(timer); reject(new Error(`upgrade refused: ${res.statusCode}`)); });
      ws.once('error', (e) => { clearTimeout(timer); reject(e); });
    });
    ws.on('error', () => {});
    ws.on('close', () => { if (measuring) closedEarly++; });
    const ids = p.perSocket === 0 ? [] : p.slice ? p.auctions.slice(k * p.perSocket, (k + 1) * p.perSocket) : p.auctions.slice(0, p.perSocket);
    let waiting = ids.length;
    const subscribed = new Promise<void>((resolve, reject) => {
      if (waiting === 0) resolve();
      const timer = setTimeout(() => reject(new Error(`subscribe timed out (${waiting} of ${ids.length} left)`)), 60_000);
      ws.on('message', (raw: Buffer) => {
        const time = bidTime(raw);
        if (time !== undefined) {
          if (!measuring) return;
          sample ??= raw.toString();
          deliveries++;
          latency.record(Date.now() - time);
          return;
        }
        const m = JSON.parse(raw.toString()) as { type: string; data?: { time?: string; subscribed?: boolean }; error?: { code: string } };
        if (m.type === 'auction_update' && m.data?.subscribed) {
          if (--waiting === 0) { clearTimeout(timer); resolve(); }
        } else if (m.type === 'error') {
          clearTimeout(timer);
          reject(new Error(`subscribe failed: ${m.error?.code}`));
        }
      });
    });
    for (const id of ids) ws.send(JSON.stringify({ type: 'subscribe', auction_id: id }));
    await subscribed;
    sockets.push(ws);
  };

  const { failed, firstError } = await connectAll(p.count, p.connectConcurrency, setupDeadline, one);

  return {
    info: { connected: sockets.length, failed, firstError },
    run: async () => {
      measuring = true;
      await measureUntilStopped(p.holdMs, {
        deliveries: () => deliveries,
        phase: () => {
          const handed = { deliveries, latency: latency.toJSON(), sample };
          deliveries = 0;
          latency = new Hist();
          return handed;
        },
      });
      measuring = false;
      const connected = sockets.filter((ws) => ws.readyState === ws.OPEN).length;
      for (const ws of sockets) ws.terminate();
      return { connected, failed, firstError, deliveries, latency: latency.toJSON(), closedEarly };
    },
  };
});
