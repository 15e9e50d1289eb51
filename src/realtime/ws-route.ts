import fp from 'fastify-plugin';
import websocket from '@fastify/websocket';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { AuthError, type Identity } from '../auth/tokens.ts';
import { metrics } from '../metrics.ts';
import { Connection } from './connection.ts';
import { Feeds } from './feeds.ts';
import { ListenHub } from './listen-hub.ts';
import { CLOSE } from './protocol.ts';

declare module 'fastify' {
  interface FastifyInstance {
    listenHub: ListenHub;
    feeds: Feeds;
    connections: Set<Connection>;
  }
  interface FastifyRequest {
    identity?: Identity;
  }
}

/** GET /ws: authenticated on the upgrade request, then one Connection per socket. */
export default fp(async (app: FastifyInstance) => {
  const c = app.config;
  const hub = new ListenHub(c.databaseUrl, app.log.child({ part: 'listen' }));
  await hub.start();
  const feeds = new Feeds(app.pg.sql, hub, app.log.child({ part: 'feeds' }));
  const connections = new Set<Connection>();
  app.decorate('listenHub', hub);
  app.decorate('feeds', feeds);
  app.decorate('connections', connections);
  app.readinessChecks.set('listen', () => hub.ready);

  // Replaces the plugin's default preClose, which would close sockets before in-flight bids reply.
  const drainAndClose = async () => {
    clearInterval(heartbeat);
    const deadline = Date.now() + c.SHUTDOWN_GRACE_MS;
    while ([...connections].some((x) => x.inFlight > 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    // 1001: clients reconnect (to another instance) and resume with since_seq
    for (const conn of connections) conn.close(CLOSE.goingAway, 'server shutting down');
  };
  let heartbeat: NodeJS.Timeout | undefined;
  // No permessage-deflate (ws's default, stated): broadcasts write one shared frame straight to each TCP socket.
  // No client tracking: `connections` is the list (ws would keep a Set entry and a listener per socket).
  await app.register(websocket, {
    options: { maxPayload: c.WS_MAX_FRAME_BYTES, perMessageDeflate: false, clientTracking: false }, preClose: drainAndClose });
  const deps = { app, feeds };

  // Drop peers that stop answering pings.
  heartbeat = setInterval(() => {
    for (const conn of connections) {
      if (!conn.alive) {
        conn.log.info('heartbeat missed; terminating');
        conn.terminate();
        continue;
      }
      conn.alive = false;
      conn.ping();
    }
  }, c.WS_HEARTBEAT_MS);
  heartbeat.unref();

  app.addHook('onClose', async () => {
    await hub.close();
  });

  app.get('/ws', {
    websocket: true,
    preValidation: async (req, reply) => {
      if (!app.originAllowed(req)) {
        return reply.code(403).send({ error: { code: 'origin_not_allowed', message: 'origin not allowed' } });
      }
      try {
        req.identity = await app.authenticate(req);
      } catch (err) {
        if (err instanceof AuthError) return reply.code(401).send({ error: { code: err.code, message: err.message } });
        throw err;
      }
    },
  }, (socket, req) => {
    const conn = new Connection(socket, req.identity!.userId, deps, req.raw.socket);
    connections.add(conn);
    metrics.connections.inc();
    // attach handlers synchronously so no early frame is missed
    socket.on('message', (raw, isBinary) => void conn.onFrame(raw, isBinary));
    socket.on('pong', () => { conn.alive = true; });
    socket.on('close', () => {
      connections.delete(conn);
      metrics.connections.dec();
      void conn.cleanup();
    });
    releaseUpgrade(socket, req, (err) => {
      conn.log.error({ err }, 'socket error');
      conn.terminate();
    });
    if (app.log.level === 'debug' || app.log.level === 'trace') conn.log.debug('connected');
  });
}, { name: 'websocket-api', dependencies: ['database', 'auth'] });

/**
 * @fastify/websocket keeps the upgrade's request and reply for the socket's whole life: the ServerResponse it
 * assigned to the TCP socket (fastify's listeners on it hold both) and an 'error' listener that closes over them.
 * With the headers, the token in the URL and the read buffer they came in, that was about 5 KiB per idle socket.
 * The response of a hijacked upgrade is never written, so detaching it changes nothing else. `onError` takes over
 * from the plugin's default error handler (log, terminate).
 */
function releaseUpgrade(ws: WebSocket, req: FastifyRequest, onError: (err: Error) => void) {
  const tcp = req.raw.socket as Socket & { _httpMessage?: ServerResponse | null };
  const res = tcp._httpMessage;
  if (res?.socket === tcp) res.detachSocket(tcp);
  ws.removeAllListeners('error');
  ws.on('error', onError);
}
