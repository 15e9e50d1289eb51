// Whether the minimal bid function's load runs on pgbench (Debian's postgresql-client) or on postgres.js.
import { execFileSync } from 'node:child_process';

/** pgbench's version line when it runs here and BENCH_PGBENCH is not 0. */
export function pgbenchVersion(): string | undefined {
  if (process.env.BENCH_PGBENCH === '0') return undefined;
  try {
    return execFileSync('pgbench', ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    return undefined;
  }
}
