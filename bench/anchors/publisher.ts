// The bidder of the fan-out anchors: at `rate` events a second for durationMs, one bid_placed event (the service's
// own message, captured by a watcher, with a fresh time) to the bare ws floor servers, or to the first Socket.IO peer
// server. The time is stamped as the event is sent, where the service's is stamped just before its commit: so the
// anchors' latencies leave out the database, which favours them. Round trip: sent -> the first server's ack.
import WebSocket from 'ws';
import { io, type Socket } from 'socket.io-client';
import { BidTally, childMain, sleep, type BidResult } from '../lib.ts';

type Params = { mode: 'ws' | 'socketio'; urls: string[]; rate: number; durationMs: number; sample: string; auctionId: string };

/** The sample message with its "time" replaced by `at`, written in the same form (PostgreSQL's, with microseconds, or ISO). */
function stamped(sample: string, at: number) {
  const m = /"time":"([^"]*)"/.exec(sample);
  if (!m) throw new Error(`sample event without a time: ${sample.slice(0, 300)}`);
  const iso = new Date(at).toISOString();
  const time = /\.\d{6}\+00:00$/.test(m[1]) ? `${iso.slice(0, 23)}000+00:00` : iso;
  return sample.slice(0, m.index) + `"time":"${time}"` + sample.slice(m.index + m[0].length);
}

async function openWs(url: string) {
  const ws = new WebSocket(url.replace(/\/ws$/, '/publish'), { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
  return ws;
}

async function openSocketIo(url: string) {
  const s = io(url, { transports: ['websocket'], reconnection: false, forceNew: true });
  await new Promise<void>((resolve, reject) => { s.once('connect', () => resolve()); s.once('connect_error', reject); });
  return s;
}

await childMain<Params, BidResult>(async (p) => {
  const wss = p.mode === 'ws' ? await Promise.all(p.urls.map(openWs)) : [];
  const sio: Socket | undefined = p.mode === 'socketio' ? await openSocketIo(p.urls[0]) : undefined;
  return {
    run: async () => {
      const start = performance.now();
      const tally = new BidTally(start, { auctions: [p.auctionId], bidders: 1, firstBidder: 0, durationMs: p.durationMs, warmupMs: 0, t0: 0 });
      const acks: (() => void)[] = [];
      wss[0]?.on('message', () => acks.shift()?.());
      const replies: Promise<void>[] = [];
      for (let k = 0; (k * 1000) / p.rate < p.durationMs; k++) { // every event due inside the window, none after it
        const wait = start + (k * 1000) / p.rate - performance.now();
        if (wait > 0) await sleep(wait);
        const sentAt = performance.now();
        const event = stamped(p.sample, Date.now());
        replies.push(new Promise<void>((resolve) => {
          let settled = false;
          const timer = setTimeout(() => { settled = true; tally.unanswered++; resolve(); }, 10_000);
          const done = () => { if (settled) return; settled = true; clearTimeout(timer); tally.done(sentAt, 'accepted'); resolve(); };
          if (sio) sio.emit('bid', p.auctionId, JSON.parse(event), done);
          else {
            acks.push(done);
            for (const ws of wss) ws.send(event);
          }
        }));
      }
      await Promise.all(replies);
      for (const ws of wss) ws.close();
      sio?.disconnect();
      return tally.result();
    },
  };
});
