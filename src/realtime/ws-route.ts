import fp from 'fastify-plugin';
import websocket from '@fastify/websocket';
import type { FastifyInstance } from 'fastify';
import { AuthError, type Identity } from '../auth/tokens.ts';
import { metrics } from '../metrics.ts';
import { Connection } from './connection.ts';
import { Feeds } from './feeds.ts';
import { ListenHub } from './listen-hub.ts';
import { CLOSE } from './protocol.ts';
import type { StatusEvent } from './messages.ts';
import { statusChanged } from './messages.ts';

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
  await app.register(websocket, { options: { maxPayload: c.WS_MAX_FRAME_BYTES }, preClose: drainAndClose });

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
    const conn = new Connection(socket, req.identity!.userId, { app, feeds });
    connections.add(conn);
    metrics.connections.inc();
    // attach handlers synchronously so no early frame is missed
    socket.on('message', (raw, isBinary) => void conn.onFrame(raw, isBinary));
    socket.on('pong', () => { conn.alive = true; });
    let unlistenUser: (() => Promise<void>) | undefined;
    socket.on('close', () => {
      connections.delete(conn);
      metrics.connections.dec();
      void conn.cleanup();
      void unlistenUser?.();
    });
    // The user's own channel: results of their auctions and wins even when not subscribed.
    hub.subscribe(`user:${conn.userId}`, (payload) => {
      const e = JSON.parse(payload) as StatusEvent;
      if (!conn.subscriptions.has(e.auction_id)) conn.send(JSON.stringify(statusChanged(e)));
    }).then((undo) => {
      if (socket.readyState === socket.CLOSED || socket.readyState === socket.CLOSING) void undo();
      else unlistenUser = undo;
    }, (err) => conn.log.error({ err }, 'could not listen on the user channel'));
    conn.log.debug('connected');
  });
}, { name: 'websocket-api', dependencies: ['database', 'auth'] });
