import postgres from 'postgres';

/** The database did not answer in time, or refused us for good; the message is one line that says what to do. */
export class DatabaseUnreachableError extends Error {}

// the server is there but cannot take us yet (starting up or shutting down, full): worth another try
const TRANSIENT_CODES = new Set(['57P03', '57P01', '53300']);

type Log = { warn: (fields: { attempt: number; err: string; retryInMs: number }, msg: string) => void };

/** The URL without its password, for logs. */
export function redactUrl(url: string) {
  return url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
}

/**
 * Waits until the database answers a query: tries every 0.25 s, doubling up to 5 s, for at most
 * `timeoutSeconds` (0: one try), with a log line per failed try. A refusal that waiting cannot fix
 * (wrong password, no such database) ends it at once.
 */
export async function waitForDatabase(url: string, opts: { timeoutSeconds: number; log: Log }) {
  const deadline = Date.now() + opts.timeoutSeconds * 1000;
  let delay = 250;
  for (let attempt = 1; ; attempt++) {
    const left = Math.max(0, deadline - Date.now());
    const sql = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: Math.max(1, Math.min(10, Math.ceil(left / 1000))) });
    try {
      await sql`select 1`;
      return;
    } catch (err) {
      const { code, message } = err as Error & { code?: string };
      const reason = message || code || String(err);
      // a network failure (refused, reset, timed out, unknown host) is retried; most server answers are final
      if (err instanceof postgres.PostgresError && !TRANSIENT_CODES.has(code!)) {
        throw new DatabaseUnreachableError(`the database at ${redactUrl(url)} refused the connection: ${reason}; fix DATABASE_URL`);
      }
      const wait = Math.min(delay, deadline - Date.now());
      if (wait <= 0) {
        throw new DatabaseUnreachableError(`cannot reach the database at ${redactUrl(url)} after ${attempt} ${attempt === 1 ? 'try' : 'tries'} in ${opts.timeoutSeconds} s (${reason}): ` +
          'check DATABASE_URL and that PostgreSQL is up, or wait longer with DB_CONNECT_TIMEOUT_SECONDS');
      }
      opts.log.warn({ attempt, err: reason, retryInMs: wait }, 'database not reachable yet; retrying');
      await new Promise((r) => setTimeout(r, wait));
      delay = Math.min(delay * 2, 5000);
    } finally {
      await sql.end({ timeout: 0 });
    }
  }
}
