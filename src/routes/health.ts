import { withDeadline } from '../util/deadline.ts';
import type { FastifyInstance, LogLevel } from 'fastify';

/** Probes come every few seconds: at LOG_LEVEL=info their request lines are left out; debug shows them. */
export function probeLogLevel(app: FastifyInstance) {
  return { logLevel: (app.log.level === 'info' ? 'warn' : app.log.level) as LogLevel };
}

export default async function healthRoutes(app: FastifyInstance) {
  // Liveness: the process answers. The body is the original design's, so its probes read it unchanged.
  app.get('/health', probeLogLevel(app), async () => ({ status: 'ok', service: 'auction-websocket' }));

  // Readiness: the database answers (and, once registered, the LISTEN connection is up).
  app.get('/ready', probeLogLevel(app), async (_req, reply) => {
    const checks: Record<string, boolean> = {};
    checks.database = await withDeadline(app.pg.sql`select 1`.then(() => true, () => false), 2000, () => false);
    for (const [name, check] of app.readinessChecks) checks[name] = check();
    const ok = Object.values(checks).every(Boolean);
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not_ready', checks });
  });
}
