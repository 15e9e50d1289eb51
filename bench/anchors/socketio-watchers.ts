// Load generator for the Socket.IO peer: `count` socket.io-client sockets (WebSocket transport only, no
// reconnection, one connection each) that subscribe to auctions[0] and then only listen; each bid_placed is timed
// against the time in its payload, as bench/watchers.ts does for the service. Same parent protocol and result.
import { io, type Socket } from 'socket.io-client';
import { Hist, childMain, connectAll, measureUntilStopped } from '../lib.ts';
import type { WatchResult } from '../watchers.ts';

type Params = { urls: string[]; count: number; localAddress?: string; auctions: string[]; connectConcurrency: number; setupLimitMs: number; holdMs: number };
type Event = { data?: { time?: string } };

await childMain<Params, WatchResult>(async (p) => {
  let latency = new Hist();
  let deliveries = 0;
  let closedEarly = 0;
  let measuring = false;
  const sockets: Socket[] = [];
  const setupDeadline = Date.now() + p.setupLimitMs;

  const one = async (k: number) => {
    // localAddress is not in the client's types, but the WebSocket transport passes it on to `ws` in Node
    const socket = io(p.urls[k % p.urls.length], {
      transports: ['websocket'], reconnection: false, forceNew: true, timeout: 30_000, ...{ localAddress: p.localAddress } });
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('connect_error', (e) => reject(e));
      });
      const ack = await socket.timeout(60_000).emitWithAck('subscribe', p.auctions[0]) as { subscribed?: boolean };
      if (!ack?.subscribed) throw new Error(`subscribe failed: ${JSON.stringify(ack)}`);
    } catch (err) {
      socket.disconnect();
      throw err;
    }
    socket.on('disconnect', () => { if (measuring) closedEarly++; });
    socket.on('bid_placed', (e: Event) => {
      if (!measuring) return;
      const t = Date.parse(e.data?.time ?? '');
      if (Number.isNaN(t)) throw new Error(`bid_placed without a readable time: ${JSON.stringify(e).slice(0, 300)}`);
      deliveries++;
      latency.record(Date.now() - t);
    });
    sockets.push(socket);
  };

  const { failed, firstError } = await connectAll(p.count, p.connectConcurrency, setupDeadline, one);

  return {
    info: { connected: sockets.length, failed, firstError },
    run: async () => {
      measuring = true;
      await measureUntilStopped(p.holdMs, {
        deliveries: () => deliveries,
        phase: () => {
          const handed = { deliveries, latency: latency.toJSON() };
          deliveries = 0;
          latency = new Hist();
          return handed;
        },
      });
      measuring = false;
      const connected = sockets.filter((s) => s.connected).length;
      for (const s of sockets) s.disconnect();
      return { connected, failed, firstError, deliveries, latency: latency.toJSON(), closedEarly };
    },
  };
});
