// The fan-out floor: a bare `ws` server, no database, no ordering, no per-socket state. A watcher (bench/watchers.ts)
// connects to /ws, subscribes (any auction id) and is told so; the publisher (anchors/publisher.ts) connects to
// /publish and sends each event as one text message, which goes to every subscribed socket as the ws README
// broadcasts (`client.send(data)` for each), then is acknowledged to the publisher.
import { createServer } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { serveParent } from './serve-parent.ts';

const subscribed = new Set<WebSocket>();
const http = createServer((_req, res) => res.writeHead(404).end());
const wss = new WebSocketServer({ server: http, perMessageDeflate: false, maxPayload: 64 * 1024 });

wss.on('connection', (ws, req) => {
  ws.on('error', () => {});
  if (req.url?.startsWith('/publish')) {
    ws.on('message', (data: Buffer, isBinary) => {
      for (const c of subscribed) c.send(data, { binary: isBinary });
      ws.send('{"type":"published"}');
    });
    return;
  }
  ws.on('close', () => subscribed.delete(ws));
  ws.on('message', (raw: Buffer) => {
    const m = JSON.parse(raw.toString()) as { type?: string; auction_id?: string };
    if (m.type !== 'subscribe') return;
    subscribed.add(ws);
    ws.send(JSON.stringify({ type: 'auction_update', auction_id: m.auction_id, data: { subscribed: true } }));
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
