import type { FastifyInstance } from 'fastify';

export default async function healthRoutes(app: FastifyInstance) {
  // Liveness: the process answers.
  app.get('/health', async () => ({ status: 'ok' }));

  // Readiness: the database answers (and, once registered, the LISTEN connection is up).
  app.get('/ready', async (_req, reply) => {
    const checks: Record<string, boolean> = {};
    let timer: NodeJS.Timeout | undefined;
    try {
      const probe = app.pg.sql`select 1`;
      probe.catch(() => {});
      checks.database = await Promise.race([probe.then(() => true),
        new Promise<boolean>((r) => { timer = setTimeout(() => r(false), 2000); })]);
    } catch {
      checks.database = false;
    } finally {
      clearTimeout(timer);
    }
    for (const [name, check] of app.readinessChecks) checks[name] = check();
    const ok = Object.values(checks).every(Boolean);
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not_ready', checks });
  });
}
