// The fan-out floor: a bare `ws` server, no database, no ordering, no per-socket state. A watcher (bench/watchers.ts)
// connects to /ws, subscribes (any auction id) and is told so; the publisher (anchors/publisher.ts) connects to
// /publish and sends each event as one text message. Each event is framed once; the frames that arrived within one
// event-loop turn go to every subscribed socket in one write to its TCP socket (no compression is negotiated, so
// ws writes nothing there itself between frames), and are then acknowledged to the publisher. That is the least
// a broadcast can cost: one system call per socket per turn, which the service's broadcast also pays.
import { createServer } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { serveParent } from './serve-parent.ts';

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

const subscribed = new Map<WebSocket, Socket>();
let pending: Buffer[] = [];
let publisher: WebSocket | undefined;

function flush() {
  const bytes = pending.length === 1 ? pending[0] : Buffer.concat(pending);
  const events = pending.length;
  pending = [];
  for (const [ws, tcp] of subscribed) if (ws.readyState === ws.OPEN) tcp.write(bytes);
  for (let k = 0; k < events; k++) publisher?.send('{"type":"published"}');
}

const http = createServer((_req, res) => res.writeHead(404).end());
const wss = new WebSocketServer({ server: http, perMessageDeflate: false, maxPayload: 64 * 1024 });

wss.on('connection', (ws, req) => {
  ws.on('error', () => {});
  if (req.url?.startsWith('/publish')) {
    publisher = ws;
    ws.on('message', (data: Buffer) => {
      if (pending.push(textFrame(data)) === 1) setImmediate(flush);
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
  url: `ws://127.0.0.1:${port}/ws`,
  connections: () => wss.clients.size,
  close: async () => {
    for (const c of wss.clients) c.terminate();
    await new Promise((resolve) => wss.close(resolve));
    await new Promise((resolve) => http.close(resolve));
  },
});
