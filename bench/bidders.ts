// Load generator: `bidders` WebSocket clients, each its own socket and token, bidding in a closed loop
// (one bid in flight per bidder) or, with `rate`, one socket bidding at a fixed rate (fan-out scenario).
import WebSocket from 'ws';
import { randomUUID } from 'node:crypto';
import { mintToken } from '../src/auth/tokens.ts';
import { BENCH_SECRET, amountAt, BidTally, ISSUER, bidderName, childMain, pickAuction, sleep, type BidLoad, type BidResult } from './lib.ts';

type Params = { urls: string[]; load: BidLoad; rate?: number };
type Reply = { type: string; request_id?: string; data?: { current_price?: number; min_next_bid?: number; reason?: string }; error?: { code: string } };

async function open(url: string, i: number): Promise<WebSocket> {
  const { token } = await mintToken({ secret: new TextEncoder().encode(BENCH_SECRET), issuer: ISSUER, audience: ISSUER, user: bidderName(i) });
  const ws = new WebSocket(`${url}?token=${token}`, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_q, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    ws.once('error', reject);
  });
  return ws;
}

await childMain<Params, BidResult>(async (p) => {
  const { load } = p;
  const sockets = await Promise.all(Array.from({ length: load.bidders }, (_, k) => open(p.urls[k % p.urls.length], load.firstBidder + k)));
  const pending = new Map<string, (r: Reply) => void>();
  for (const ws of sockets) {
    ws.on('message', (raw) => {
      const m = JSON.parse(raw.toString()) as Reply;
      if (m.request_id && (m.type === 'bid_accepted' || m.type === 'bid_rejected' || m.type === 'error')) {
        pending.get(m.request_id)?.(m);
        pending.delete(m.request_id);
      }
    });
  }

  const bid = (ws: WebSocket, auctionId: string, amount: string) => {
    const request_id = randomUUID();
    const reply = new Promise<Reply>((resolve) => pending.set(request_id, resolve));
    ws.send(JSON.stringify({ type: 'place_bid', auction_id: auctionId, request_id, data: { amount } }));
    return reply;
  };

  return {
    info: { sockets: sockets.length },
    run: async () => {
      const start = performance.now();
      const tally = new BidTally(start, load);
      const deadline = start + load.durationMs;
      const settle = (r: Reply, sentAt: number, auctionId: string) => {
        if (r.type === 'bid_accepted') {
          tally.done(sentAt, 'accepted');
        } else if (r.type === 'bid_rejected') {
          tally.done(sentAt, 'rejected', r.data?.reason);
        } else {
          tally.done(sentAt, 'error', r.error?.code);
        }
      };
      if (p.rate) {
        // open loop, strictly rising amounts: every bid is accepted unless something is wrong
        const ws = sockets[0];
        const auctionId = load.auctions[0];
        const replies: Promise<void>[] = [];
        for (let k = 0; performance.now() < deadline; k++) {
          const due = start + (k * 1000) / p.rate;
          const wait = due - performance.now();
          if (wait > 0) await sleep(wait);
          const sentAt = performance.now();
          replies.push(bid(ws, auctionId, `${100 + k}.00`).then((r) => settle(r, sentAt, auctionId)));
        }
        await Promise.race([Promise.all(replies), sleep(30_000)]);
      } else {
        await Promise.all(sockets.map(async (ws) => {
          while (performance.now() < deadline) {
            const auctionId = pickAuction(load);
            const sentAt = performance.now();
            const r = await Promise.race([bid(ws, auctionId, amountAt(load.t0)), sleep(10_000).then(() => undefined)]);
            if (!r) { tally.unanswered++; return; }
            settle(r, sentAt, auctionId);
          }
        }));
      }
      tally.unanswered += pending.size;
      for (const ws of sockets) ws.terminate();
      return tally.result();
    },
  };
});
