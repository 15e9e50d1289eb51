// npm run client -- <user> [url]: a line-oriented WebSocket session. Each stdin line is sent as a frame
// (JSON, or a shorthand: "sub <id>", "bid <id> <amount>", "get <id>", "list"); each message is printed.
import WebSocket from 'ws';
import { createInterface } from 'node:readline';
import { randomUUID } from 'node:crypto';
import { loadEnvFile } from '../config.ts';
import { CLOSE } from '../protocol/close-codes.ts';
import { devToken } from './dev-secret.ts';

loadEnvFile();
const [user, url = `ws://127.0.0.1:${process.env.PORT ?? 8080}/ws`] = process.argv.slice(2);
if (!user) {
  console.error('usage: npm run client -- <user> [ws://host:port/ws]');
  process.exit(2);
}
const { token, userId } = await devToken(user);

const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
ws.on('open', () => console.error(`connected as ${user} (${userId}); type JSON or: sub <id> | bid <id> <amount> | get <id> | bids <id> | list | ping`));
ws.on('message', (m) => console.log(m.toString()));
ws.on('close', (code, reason) => {
  console.error(`closed ${code} ${reason}`);
  process.exit(code === CLOSE.normal ? 0 : 1);
});
ws.on('error', (e) => console.error(`error: ${e.message}`));

function toFrame(line: string): string {
  const [cmd, a, b] = line.trim().split(/\s+/);
  const request_id = randomUUID().slice(0, 8);
  switch (cmd) {
    case 'sub': return JSON.stringify({ type: 'subscribe', auction_id: a, request_id, ...(b ? { data: { since_seq: Number(b) } } : {}) });
    case 'unsub': return JSON.stringify({ type: 'unsubscribe', auction_id: a, request_id });
    case 'bid': return JSON.stringify({ type: 'place_bid', auction_id: a, data: { amount: b }, request_id });
    case 'get': return JSON.stringify({ type: 'get_auction', auction_id: a, request_id });
    case 'list': return JSON.stringify({ type: 'list_auctions', request_id });
    case 'bids': return JSON.stringify({ type: 'list_bids', auction_id: a, request_id, ...(b ? { data: { since_seq: Number(b) } } : {}) });
    case 'ping': return JSON.stringify({ type: 'ping', request_id });
    default: return line;
  }
}

// lines typed (or piped) before the socket opens wait for it
const opened = new Promise<void>((resolve) => ws.once('open', () => resolve()));
let sending = Promise.resolve();
const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (!line.trim()) return;
  sending = sending.then(() => opened).then(() => ws.send(toFrame(line)));
});
rl.on('close', () => void sending.then(() => setTimeout(() => ws.close(CLOSE.normal), 1000)));
