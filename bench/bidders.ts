// Load generator: `bidders` WebSocket clients, each its own socket and token, bidding in a closed loop
// (one bid in flight per bidder) or, with `rate`, one socket bidding at a fixed rate (fan-out scenario).
// Each bidder is the client library's AuctionClient (src/client/) on the `ws` package; its cost per bid
// over a bare socket is about 1.5 µs of this process's CPU (measured against an instant-reply server).
import WebSocket from 'ws';
import { mintToken } from '../src/auth/tokens.ts';
import { AuctionClient, AuctionError, BidRejectedError, type SocketConstructor } from '../src/client/index.ts';
import { BENCH_SECRET, amountAt, BidTally, ISSUER, bidderName, childMain, pickAuction, sleep, type BidLoad, type BidResult } from './lib.ts';

type Params = { urls: string[]; load: BidLoad; rate?: number };

// no compression, as the server offers none; the library's reconnect and keepalive stay off so a dropped
// socket shows up in the counts instead of being papered over
const Socket = class extends WebSocket {
  constructor(url: string) {
    super(url, { perMessageDeflate: false });
  }
} as unknown as SocketConstructor;
const REPLY_MS = 10_000;

async function open(url: string, i: number): Promise<AuctionClient> {
  const { token } = await mintToken({ secret: new TextEncoder().encode(BENCH_SECRET), issuer: ISSUER, audience: ISSUER, user: bidderName(i) });
  const client = new AuctionClient({ url, token, WebSocket: Socket, reconnect: false, keepaliveMs: 0, requestTimeoutMs: REPLY_MS });
  await client.connect();
  return client;
}

await childMain<Params, BidResult>(async (p) => {
  const { load } = p;
  const clients = await Promise.all(Array.from({ length: load.bidders }, (_, k) => open(p.urls[k % p.urls.length], load.firstBidder + k)));

  return {
    info: { sockets: clients.length },
    run: async () => {
      const start = performance.now();
      const tally = new BidTally(start, load);
      const deadline = start + load.durationMs;
      /** Places one bid and counts its outcome; false when it went unanswered. */
      const bid = async (c: AuctionClient, auctionId: string, amount: string): Promise<boolean> => {
        const sentAt = performance.now();
        try {
          await c.bid(auctionId, amount);
          tally.done(sentAt, 'accepted');
        } catch (err) {
          if (err instanceof BidRejectedError) tally.done(sentAt, 'rejected', err.reason);
          else if (err instanceof AuctionError && err.code === 'timeout') return false;
          else tally.done(sentAt, 'error', err instanceof AuctionError ? err.code : 'internal');
        }
        return true;
      };
      if (p.rate) {
        // open loop, amounts rising with the clock from load.t0 (so from one phase's process to the next, too):
        // 1.00 a millisecond over a floor of 100.00: every bid is accepted unless something is wrong
        const c = clients[0];
        const auctionId = load.auctions[0];
        const replies: Promise<void>[] = [];
        // every bid due inside the window, none after it (a bid sent after it would be delivered but not counted)
        for (let k = 0; start + (k * 1000) / p.rate < deadline; k++) {
          const due = start + (k * 1000) / p.rate;
          const wait = due - performance.now();
          if (wait > 0) await sleep(wait);
          replies.push(bid(c, auctionId, amountAt(load.t0, 9_000)).then((answered) => { if (!answered) tally.unanswered++; }));
        }
        await Promise.all(replies);
      } else {
        await Promise.all(clients.map(async (c) => {
          while (performance.now() < deadline) {
            if (!(await bid(c, pickAuction(load), amountAt(load.t0)))) {
              tally.unanswered++;
              return;
            }
          }
        }));
      }
      for (const c of clients) c.close();
      return tally.result();
    },
  };
});
