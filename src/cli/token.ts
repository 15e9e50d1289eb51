// npm run token -- <user name or UUID> [ttl seconds]: prints a token for that user (HS256, dev secret).
import { resolve } from 'node:path';
import { loadSecret } from '../auth/secret.ts';
import { loadEnvFile } from '../config.ts';
import { mintToken } from '../auth/tokens.ts';
import { ensureDevSecret } from './dev-secret.ts';

loadEnvFile();
const [user, ttl] = process.argv.slice(2);
if (!user) {
  console.error('usage: npm run token -- <user name or UUID> [ttl seconds]');
  process.exit(2);
}
const secretFile = process.env.JWT_SECRET || process.env.JWT_SECRET_FILE ? process.env.JWT_SECRET_FILE
  : await ensureDevSecret(resolve(process.env.DATA_DIR ?? '.data'));
const secret = loadSecret({ JWT_SECRET: process.env.JWT_SECRET, JWT_SECRET_FILE: secretFile })!;
const { token, userId } = await mintToken({
  secret, user, ttlSeconds: ttl ? Number(ttl) : undefined,
  issuer: process.env.JWT_ISSUER ?? 'auction-service', audience: process.env.JWT_AUDIENCE ?? 'auction-service',
});
console.error(`user ${user} = ${userId}`);
console.log(token);
