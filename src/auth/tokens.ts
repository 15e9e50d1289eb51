import { SignJWT, createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { createHash } from 'node:crypto';

/** `expiresAt` (ms since the epoch) is the token's `exp`; absent only for the ?user_id= opt-in mode, which has no token. */
export type Identity = { userId: string; name?: string; expiresAt?: number };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class AuthError extends Error {
  code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

type VerifyOptions = { secret?: Uint8Array; jwksUrl?: string; issuer: string; audience: string };

/** A verifier pinned to one algorithm family, issuer and audience. */
export function makeVerifier(o: VerifyOptions) {
  const key: Uint8Array | JWTVerifyGetKey = o.jwksUrl ? createRemoteJWKSet(new URL(o.jwksUrl)) : o.secret!;
  const algorithms = o.jwksUrl ? ['RS256', 'ES256', 'EdDSA'] : ['HS256'];
  return async (token: string): Promise<Identity> => {
    try {
      const { payload } = await jwtVerify(token, key as Uint8Array, {
        algorithms, issuer: o.issuer, audience: o.audience, requiredClaims: ['sub', 'exp'],
      });
      if (!payload.sub || !UUID.test(payload.sub)) throw new AuthError('invalid_token', 'token subject must be a user UUID');
      const name = typeof payload.name === 'string' ? payload.name.slice(0, 255) : undefined;
      // a user's name is stored as text, which cannot hold NUL: such a token is refused, not altered
      if (name?.includes('\u0000')) throw new AuthError('invalid_token', 'the token\'s name claim contains a NUL character');
      return { userId: payload.sub.toLowerCase(), name, expiresAt: payload.exp! * 1000 };
    } catch (err) {
      if (err instanceof AuthError) throw err;
      const code = (err as { code?: string }).code === 'ERR_JWT_EXPIRED' ? 'token_expired' : 'invalid_token';
      throw new AuthError(code, (err as Error).message);
    }
  };
}

/** A stable user UUID for a name, so `npm run token -- alice` always means the same user. */
export function userIdFor(nameOrId: string) {
  if (UUID.test(nameOrId)) return nameOrId.toLowerCase();
  const h = createHash('sha1').update(`auction-user:${nameOrId}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16], 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export async function mintToken(o: { secret: Uint8Array; issuer: string; audience: string; user: string; ttlSeconds?: number }) {
  const sub = userIdFor(o.user);
  const token = await new SignJWT(UUID.test(o.user) ? {} : { name: o.user })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub).setIssuer(o.issuer).setAudience(o.audience)
    .setIssuedAt().setExpirationTime(`${o.ttlSeconds ?? 24 * 3600}s`)
    .sign(o.secret);
  return { token, userId: sub };
}

export function isUuid(s: string) {
  return UUID.test(s);
}
