// npm run token -- <user name or UUID> [ttl seconds]: prints a token for that user (HS256, dev secret).
import { loadEnvFile } from '../config.ts';
import { devToken } from './dev-secret.ts';

loadEnvFile();
const [user, ttl] = process.argv.slice(2);
if (!user) {
  console.error('usage: npm run token -- <user name or UUID> [ttl seconds]');
  process.exit(2);
}
const { token, userId } = await devToken(user, ttl ? Number(ttl) : undefined);
console.error(`user ${user} = ${userId}`);
console.log(token);
