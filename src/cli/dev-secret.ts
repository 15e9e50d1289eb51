import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';

/** Returns the path of .data/jwt-secret, creating a random secret there on first use. */
export async function ensureDevSecret(dataDir: string) {
  await mkdir(dataDir, { recursive: true });
  const file = resolve(dataDir, 'jwt-secret');
  if (!existsSync(file)) await writeFile(file, randomBytes(32).toString('base64url') + '\n', { mode: 0o600 });
  return file;
}
