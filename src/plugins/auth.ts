import fp from 'fastify-plugin';
import type { FastifyRequest } from 'fastify';
import { AuthError, isUuid, makeVerifier, type Identity } from '../auth/tokens.ts';
import { ensureUser } from '../domain/users.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Who is calling: from a verified token (or ?user_id= when explicitly allowed). Throws AuthError.
     * `queryToken`: a token may come as ?token= (the WebSocket upgrade only: browsers cannot set its headers).
     */
    authenticate: (req: FastifyRequest, o?: { queryToken?: boolean }) => Promise<Identity>;
    /** A token's identity (the in-band `authenticate` message). Throws AuthError. */
    verifyToken: (token: string) => Promise<Identity>;
    /** Browsers may only connect from allowed origins (cross-site WebSocket hijacking). */
    originAllowed: (req: FastifyRequest) => boolean;
  }
}

export default fp(async (app) => {
  const c = app.config;
  // loadConfig read the key (or refused to start without one)
  const verify = makeVerifier({ secret: c.jwtSecret, jwksUrl: c.JWT_JWKS_URL, issuer: c.JWT_ISSUER, audience: c.JWT_AUDIENCE });
  if (c.AUTH_ALLOW_USER_ID_PARAM) {
    app.log.warn('AUTH_ALLOW_USER_ID_PARAM is on: anyone can act as any user with ?user_id=. Never use this in production.');
  }

  app.decorate('verifyToken', verify);
  app.decorate('authenticate', async (req: FastifyRequest, o: { queryToken?: boolean } = {}) => {
    const header = req.headers.authorization;
    const query = req.query as Record<string, string | undefined>;
    const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : o.queryToken ? query.token : undefined;
    let who: Identity;
    if (token) {
      who = await verify(token);
    } else if (c.AUTH_ALLOW_USER_ID_PARAM && query.user_id) {
      if (!isUuid(query.user_id)) throw new AuthError('invalid_user_id', 'user_id must be a UUID');
      who = { userId: query.user_id.toLowerCase() };
    } else {
      throw new AuthError('unauthorized', o.queryToken ? 'a bearer token is required (Authorization header or ?token=)' : 'a bearer token is required (Authorization header)');
    }
    await ensureUser(app.pg.sql, who.userId, who.name);
    return who;
  });

  app.decorate('originAllowed', (req: FastifyRequest) => {
    const origin = req.headers.origin;
    if (!origin) return true; // not a browser
    if (c.ALLOWED_ORIGINS.length > 0) return c.ALLOWED_ORIGINS.includes(origin);
    try {
      return new URL(origin).host === req.headers.host; // same origin only, by default
    } catch {
      return false;
    }
  });
}, { name: 'auth', dependencies: ['database'] });
