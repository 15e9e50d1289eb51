import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { loadSecret } from '../auth/secret.ts';
import { mintToken } from '../auth/tokens.ts';

/** Returns the path of .data/jwt-secret, creating a random secret there on first use. */
export async function ensureDevSecret(dataDir: string) {
  await mkdir(dataDir, { recursive: true });
  const file = resolve(dataDir, 'jwt-secret');
  if (!existsSync(file)) await writeFile(file, randomBytes(32).toString('base64url') + '\n', { mode: 0o600 });
  return file;
}

/**
 * A token for `user` (a name or a UUID) as this machine's service accepts it: signed with JWT_SECRET, else
 * JWT_SECRET_FILE, else the development secret `make run` keeps in .data/jwt-secret.
 */
export async function devToken(user: string, ttlSeconds?: number) {
  const env = process.env;
  const secretFile = env.JWT_SECRET ? undefined : env.JWT_SECRET_FILE || await ensureDevSecret(resolve(env.DATA_DIR ?? '.data'));
  const secret = loadSecret({ JWT_SECRET: env.JWT_SECRET || undefined, JWT_SECRET_FILE: secretFile })!;
  return mintToken({
    secret, user, ttlSeconds, issuer: env.JWT_ISSUER ?? 'auction-service', audience: env.JWT_AUDIENCE ?? 'auction-service' });
}
