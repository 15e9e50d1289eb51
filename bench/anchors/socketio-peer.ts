// The fan-out peer: a Socket.IO server with @socket.io/postgres-adapter, whose cross-server broadcast runs over
// LISTEN/NOTIFY: what a Node team without Redis would reach for. Set up as the adapter's README does, WebSocket
// transport only (no long-polling), no compression. A watcher (anchors/socketio-watchers.ts) emits `subscribe`
// (auction id, ack) and joins that auction's room; the publisher (anchors/publisher.ts) emits `bid` (auction id,
// event, ack) to one server, which emits `bid_placed` to the room on every server, then acknowledges.
import { createServer } from 'node:http';
import pg from 'pg';
import { Server } from 'socket.io';
import { createAdapter } from '@socket.io/postgres-adapter';
import { childParams } from '../lib.ts';
import { serveParent } from '../serve-parent.ts';

const { databaseUrl } = childParams<{ databaseUrl: string }>();
const pool = new pg.Pool({ connectionString: databaseUrl, max: 10, application_name: 'bench-socketio-peer' });
pool.on('error', (err) => console.error('socket.io peer: postgres error', err.message));
await pool.query(`create table if not exists socket_io_attachments (
  id bigserial unique, created_at timestamptz default now(), payload bytea)`);

const http = createServer((_req, res) => res.writeHead(404).end());
const io = new Server(http, { transports: ['websocket'], serveClient: false, perMessageDeflate: false, adapter: createAdapter(pool) });
const room = (auctionId: string) => `auction:${auctionId}`;

io.on('connection', (socket) => {
  socket.on('subscribe', (auctionId: unknown, ack: unknown) => {
    if (typeof auctionId !== 'string' || typeof ack !== 'function') return;
    void socket.join(room(auctionId));
    ack({ subscribed: true });
  });
  socket.on('bid', (auctionId: unknown, event: unknown, ack: unknown) => {
    if (typeof auctionId !== 'string' || typeof ack !== 'function') return;
    io.to(room(auctionId)).emit('bid_placed', event);
    ack();
  });
});

await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
const { port } = http.address() as { port: number };
serveParent({
  ready: { url: `http://127.0.0.1:${port}` },
  connections: () => io.engine.clientsCount,
  close: async () => {
    io.disconnectSockets(true);
    await io.close();
    await pool.end();
  },
});
