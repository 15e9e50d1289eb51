// The fan-out floor: a bare `ws` server, no database, no ordering, no per-socket state. A watcher (bench/watchers.ts)
// connects to /ws, subscribes (any auction id) and is told so; the publisher (anchors/publisher.ts) connects to
// /publish and sends each event as one text message. Each event is framed once and written as is to every
// subscribed socket's TCP socket (no compression is negotiated, so ws writes nothing there between frames), in
// slices of sockets between event-loop turns; events that arrive meanwhile go out together in the next pass, one
// write per socket. That is the service's own way to broadcast, without the database, the LISTEN path or
// any per-socket work: what a broadcast costs on this box, one system call per socket per pass.
import { createServer } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { serveParent } from '../serve-parent.ts';

/** RFC 6455 §5.2: FIN + text opcode, 7/16/64-bit payload length, no mask (a server's frame), then the payload. */
function textFrame(payload: Buffer): Buffer {
  const n = payload.length;
  const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const f = Buffer.allocUnsafe(head + n);
  f[0] = 0x81;
  if (head === 2) f[1] = n;
  else if (head === 4) { f[1] = 126; f.writeUInt16BE(n, 2); }
  else { f[1] = 127; f.writeBigUInt64BE(BigInt(n), 2); }
  payload.copy(f, head);
  return f;
}

const SLICE = 256; // sockets written between two event-loop turns, as the service does
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
const subscribed = new Map<WebSocket, Socket>();
let pending: Buffer[] = [];
let writing = false;
let publisher: WebSocket | undefined;

async function broadcast() {
  writing = true;
  while (pending.length) {
    const frames = pending;
    pending = [];
    const bytes = frames.length === 1 ? frames[0] : Buffer.concat(frames);
    let n = 0;
    for (const [ws, tcp] of subscribed) {
      if (ws.readyState === ws.OPEN) tcp.write(bytes);
      if (++n % SLICE === 0) await nextTurn();
    }
    for (let k = 0; k < frames.length; k++) publisher?.send('{"type":"published"}');
  }
  writing = false;
}

const http = createServer((_req, res) => res.writeHead(404).end());
const wss = new WebSocketServer({ server: http, perMessageDeflate: false, maxPayload: 64 * 1024 });

wss.on('connection', (ws, req) => {
  ws.on('error', () => {});
  if (req.url?.startsWith('/publish')) {
    publisher = ws;
    ws.on('message', (data: Buffer) => {
      pending.push(textFrame(data));
      if (!writing) void broadcast();
    });
    return;
  }
  ws.on('close', () => subscribed.delete(ws));
  ws.on('message', (raw: Buffer) => {
    const m = JSON.parse(raw.toString()) as { type?: string; auction_id?: string };
    if (m.type !== 'subscribe') return;
    ws.send(JSON.stringify({ type: 'auction_update', auction_id: m.auction_id, data: { subscribed: true } }));
    subscribed.set(ws, req.socket);
  });
});

await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
const { port } = http.address() as { port: number };
serveParent({
  ready: { url: `ws://127.0.0.1:${port}/ws` },
  connections: () => wss.clients.size,
  close: async () => {
    for (const c of wss.clients) c.terminate();
    await new Promise((resolve) => wss.close(resolve));
    await new Promise((resolve) => http.close(resolve));
  },
});
