import { readFileSync } from 'node:fs';
import type { Config } from '../config.ts';

const MIN_LENGTH = 32;

/** The HS256 key from JWT_SECRET or JWT_SECRET_FILE; undefined when a JWKS URL is used instead. Errors name the variable. */
export function loadSecret(config: Partial<Pick<Config, 'JWT_SECRET' | 'JWT_SECRET_FILE'>>): Uint8Array | undefined {
  const name = config.JWT_SECRET !== undefined ? 'JWT_SECRET' : 'JWT_SECRET_FILE';
  let text = config.JWT_SECRET;
  if (text === undefined && config.JWT_SECRET_FILE) {
    try {
      text = readFileSync(config.JWT_SECRET_FILE, 'utf8').trim();
    } catch (err) {
      const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      throw new Error(`JWT_SECRET_FILE: cannot read ${config.JWT_SECRET_FILE} (${reason}); point it at a readable file that holds the key (${MIN_LENGTH}+ characters)`);
    }
  }
  if (text !== undefined && text.length < MIN_LENGTH) {
    throw new Error(`${name}: the key has ${text.length} characters and needs at least ${MIN_LENGTH}`);
  }
  return text === undefined ? undefined : new TextEncoder().encode(text);
}
