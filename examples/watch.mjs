// Watches one auction and bids on it, with the client library as another project uses it:
//   npm install <path to this repository>   (then: import ... from 'auction-service/client')
//   AUCTION_URL=ws://127.0.0.1:8080/ws AUCTION_TOKEN=$(npm run -s token -- carol) node examples/watch.mjs <auction id> [bid amount]
// Plain JavaScript on Node 24's global WebSocket; prints one line per event, and with AUCTION_EVENTS=n exits
// after n events (and the bid's answer).
import { AuctionClient, BidRejectedError } from 'auction-service/client';

const [auctionId, amount] = process.argv.slice(2);
const url = process.env.AUCTION_URL ?? 'ws://127.0.0.1:8080/ws';
const token = process.env.AUCTION_TOKEN;
if (!auctionId || !token) {
  console.error('usage: AUCTION_TOKEN=<jwt> [AUCTION_URL=ws://host/ws] node examples/watch.mjs <auction id> [bid amount]');
  process.exit(2);
}
const stopAfter = Number(process.env.AUCTION_EVENTS ?? Infinity);

const client = new AuctionClient({ url, token });
await client.connect();

const auction = client.subscribe(auctionId); // listeners go on before anything can arrive
let seen = 0;
let enough;
const heardEnough = new Promise((resolve) => { enough = resolve; });
const done = () => { if (++seen >= stopAfter) enough(); };
auction.on('bid', (e) => { console.log(`bid ${e.seq}: ${e.data.amount.toFixed(2)} by ${e.data.user_name}`); done(); });
auction.on('status', (e) => { console.log(`${e.type}${e.resumed ? ' (found after a reconnect)' : ''}`); done(); });
auction.on('outbid', (e) => console.log(`outbid: the price is now ${e.data.current_price.toFixed(2)}`));
client.on('disconnected', (e) => console.log(`disconnected (${e.code})${e.willReconnect ? ', reconnecting' : ''}`));

const snap = await auction.ready;
console.log(`watching ${snap.item_name} by ${snap.creator_name}: ${snap.status}, ${snap.current_price.toFixed(2)}, next bid from ${snap.min_next_bid.toFixed(2)}`);

if (amount) {
  try {
    const r = await client.bid(auctionId, amount);
    console.log(`bid accepted: ${r.amount?.toFixed(2)}${r.leading === false ? ' (a higher maximum answered it)' : ''}`);
  } catch (err) {
    if (err instanceof BidRejectedError) console.log(`bid rejected: ${err.reason} (next bid from ${err.minNextBid})`);
    else throw err;
  }
}
await heardEnough;
client.close();
