import fp from 'fastify-plugin';
import websocket from '@fastify/websocket';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { AuthError, isUuid, type Identity } from '../auth/tokens.ts';
import { metrics } from '../metrics.ts';
import { CLOSE } from '../protocol/close-codes.ts';
import { SUBPROTOCOL, negotiateDialect, offeredSubprotocols, type DialectName } from '../protocol/dialects.ts';
import { originalDialect, ourDialect } from './dialect.ts';
import { Feeds } from './feeds.ts';
import { makeHandlers } from './handlers.ts';
import { ListenHub } from './listen-hub.ts';
import { makeOriginalHandlers } from './original-handlers.ts';
import { Session, type SessionDeps } from './session.ts';
import { SocketTransport, type TransportLimits } from './transport.ts';
import { UserLimits } from './user-limits.ts';

declare module 'fastify' {
  interface FastifyInstance {
    listenHub: ListenHub;
    feeds: Feeds;
    /** the open sockets of this instance */
    connections: Set<Session>;
    /** per-user socket counts and message buckets, per-IP upgrade buckets */
    userLimits: UserLimits;
  }
  interface FastifyRequest {
    identity?: Identity;
    /** the dialect this upgrade negotiated (Sec-WebSocket-Protocol, else WS_DEFAULT_DIALECT) */
    dialect?: DialectName;
  }
}

/** GET /ws: authenticated on the upgrade request, then a transport and a session per socket. */
export default fp(async (app: FastifyInstance) => {
  const c = app.config;
  const hub = new ListenHub(c.databaseUrl, app.log.child({ part: 'listen' }));
  await hub.start();
  const feeds = new Feeds(app.auctions, hub, app.log.child({ part: 'feeds' }), { coalesceMs: c.WS_BROADCAST_COALESCE_MS });
  const connections = new Set<Session>();
  app.decorate('listenHub', hub);
  app.decorate('feeds', feeds);
  app.decorate('connections', connections);
  const userLimits = new UserLimits({
    maxSocketsPerUser: c.WS_MAX_SOCKETS_PER_USER, userRatePerSec: c.WS_USER_RATE_LIMIT_PER_SEC, userBurst: c.WS_USER_RATE_BURST,
    upgradesPerIpPerMin: c.WS_UPGRADES_PER_IP_PER_MIN,
  });
  app.decorate('userLimits', userLimits);
  app.readinessChecks.set('listen', () => hub.ready);

  const limits: TransportLimits = { maxBufferedBytes: c.WS_MAX_BUFFERED_BYTES, ratePerSec: c.WS_RATE_LIMIT_PER_SEC, burst: c.WS_RATE_BURST };
  const deps: SessionDeps = {
    dialects: {
      auction: ourDialect(makeHandlers({ auctions: app.auctions, feeds, maxSubscriptions: c.WS_MAX_SUBSCRIPTIONS, verifyToken: app.verifyToken })),
      original: originalDialect(makeOriginalHandlers({ auctions: app.auctions, feeds, maxSubscriptions: c.WS_MAX_SUBSCRIPTIONS })),
    },
    hub, userName: (id) => app.auctions.userName(id), log: app.log, requestTimeoutMs: c.REQUEST_TIMEOUT_MS, ratePerSec: c.WS_RATE_LIMIT_PER_SEC,
    replayRowsPerSec: c.WS_REPLAY_ROWS_PER_SEC, replayBurst: c.WS_REPLAY_BURST,
    userRatePerSec: c.WS_USER_RATE_LIMIT_PER_SEC, takeUserMessage: (userId) => userLimits.takeMessage(userId),
  };

  // Replaces the plugin's default preClose, which would close sockets before in-flight bids reply.
  const drainAndClose = async () => {
    clearInterval(heartbeat);
    const deadline = Date.now() + c.SHUTDOWN_GRACE_MS;
    while ([...connections].some((x) => x.inFlight > 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    // 1001: clients reconnect (to another instance) and resume with since_seq
    for (const s of connections) s.close(CLOSE.goingAway, 'server shutting down');
  };
  // No permessage-deflate (ws's default, stated): broadcasts write one shared frame straight to each TCP socket.
  // No client tracking: `connections` is the list (ws would keep a Set entry and a listener per socket).
  await app.register(websocket, {
    options: {
      maxPayload: c.WS_MAX_FRAME_BYTES, perMessageDeflate: false, clientTracking: false,
      // the subprotocol preValidation chose (an upgrade offering only unknown ones was refused there)
      handleProtocols: (offered: Set<string>) => {
        const n = negotiateDialect(offered, c.WS_DEFAULT_DIALECT);
        return 'subprotocol' in n && n.subprotocol ? n.subprotocol : false;
      },
    },
    preClose: drainAndClose });

  // Drop peers that stop answering pings.
  const heartbeat = setInterval(() => {
    for (const s of connections) if (!s.transport.heartbeat()) s.log.info('heartbeat missed; terminated');
  }, c.WS_HEARTBEAT_MS);
  heartbeat.unref();

  app.addHook('onClose', async () => {
    await hub.close();
  });

  app.get('/ws', {
    websocket: true,
    preValidation: async (req, reply) => {
      const n = negotiateDialect(offeredSubprotocols(req.headers['sec-websocket-protocol']), c.WS_DEFAULT_DIALECT);
      if ('unknown' in n) {
        return reply.code(400).send({ error: { code: 'unsupported_subprotocol',
          message: `no dialect named ${n.unknown.join(', ')}; offer ${SUBPROTOCOL.auction} or ${SUBPROTOCOL.original}, or none` } });
      }
      req.dialect = n.dialect;
      // a refusal as this dialect's client reads one: ours JSON, the original's Go http.Error (plain text)
      const refuse = (status: number, code: string, message: string) => n.dialect === 'original'
        ? reply.code(status).type('text/plain; charset=utf-8').header('x-content-type-options', 'nosniff').send(`${message}\n`)
        : reply.code(status).send({ error: { code, message } });
      if (!app.originAllowed(req)) return refuse(403, 'origin_not_allowed', 'origin not allowed');
      // before the token is checked: a flood of upgrades costs one bucket look-up each
      const upgrade = userLimits.admitUpgrade(req.ip);
      if (!upgrade.ok) {
        reply.header('retry-after', String(upgrade.retryAfterSec));
        return refuse(429, 'rate_limited', `more than ${c.WS_UPGRADES_PER_IP_PER_MIN} upgrades per minute from this address`);
      }
      const missing = n.dialect === 'original' && c.AUTH_ALLOW_USER_ID_PARAM ? originalUserIdProblem(req) : undefined;
      if (missing) return refuse(400, 'invalid_user_id', missing);
      try {
        req.identity = await app.authenticate(req, { queryToken: true });
      } catch (err) {
        if (err instanceof AuthError) return refuse(401, err.code, err.message);
        throw err;
      }
      const release = userLimits.openSocket(req.identity.userId);
      if (!release) return refuse(429, 'too_many_sockets', `at most ${c.WS_MAX_SOCKETS_PER_USER} sockets per user; close one first`);
      // the TCP socket's end is the socket's end, whether or not the upgrade completed
      req.raw.socket.once('close', release);
    },
  }, (socket, req) => {
    const session = new Session(new SocketTransport(socket, limits, req.raw.socket), req.identity!.userId, deps, req.dialect);
    connections.add(session);
    // one timer per socket (a Timeout object, ~100 bytes): a close at exp to the millisecond; ?user_id= has none
    if (req.identity!.expiresAt !== undefined) session.expireAt(req.identity!.expiresAt);
    metrics.connections.inc();
    // attach handlers synchronously so no early frame is missed
    socket.on('message', (raw, isBinary) => void session.onFrame(raw, isBinary));
    socket.on('close', () => {
      connections.delete(session);
      metrics.connections.dec();
      void session.end();
    });
    releaseUpgrade(socket, req, (err) => {
      const fault = clientFault(err);
      // a peer's broken frame is its own fault: one line, no stack; anything else is ours to look at
      if (fault) session.log.warn({ ws_error: fault.code }, `client fault: ${fault.what}`);
      else session.log.error({ err }, 'socket error');
      session.terminate();
    });
    if (app.log.level === 'debug' || app.log.level === 'trace') session.log.debug('connected');
  });
}, { name: 'websocket-api', dependencies: ['database', 'auth', 'auctions'] });

/**
 * The original server's refusals of its `?user_id=` (its exact texts), for an upgrade without a token in the
 * original dialect: a token, when there is one, decides as in ours.
 */
function originalUserIdProblem(req: FastifyRequest): string | undefined {
  const hasToken = req.headers.authorization?.startsWith('Bearer ') || (req.query as { token?: string }).token;
  if (hasToken) return undefined;
  const userId = (req.query as { user_id?: string }).user_id;
  if (!userId) return 'user_id is required';
  return isUuid(userId) ? undefined : 'invalid user_id format';
}

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

// ws's receiver errors (the peer's frame broke the protocol): the close code ws sends, and what the client did
const CLIENT_FAULTS: Record<string, string> = {
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: 'the client sent an oversized frame; closed with 1009',
  WS_ERR_INVALID_UTF8: 'the client sent a text frame that is not UTF-8; closed with 1007',
};

function clientFault(err: Error) {
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string') return undefined;
  if (CLIENT_FAULTS[code]) return { code, what: CLIENT_FAULTS[code] };
  // ws's other WS_ERR_* codes are the peer's protocol errors too (ws closes with the code the error names)
  return code.startsWith('WS_ERR_') ? { code, what: `the client broke the WebSocket protocol (${err.message})` } : undefined;
}
