import { readFileSync } from 'node:fs';
import type { Config } from '../config.ts';

/** The HS256 key from JWT_SECRET or JWT_SECRET_FILE; undefined when a JWKS URL is used instead. */
export function loadSecret(config: Pick<Config, 'JWT_SECRET' | 'JWT_SECRET_FILE'>): Uint8Array | undefined {
  const text = config.JWT_SECRET ?? (config.JWT_SECRET_FILE ? readFileSync(config.JWT_SECRET_FILE, 'utf8').trim() : undefined);
  if (text !== undefined && text.length < 32) throw new Error('the JWT secret must be at least 32 characters');
  return text === undefined ? undefined : new TextEncoder().encode(text);
}
