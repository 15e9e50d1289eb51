import type { FastifyInstance } from 'fastify';
import { registry } from '../metrics.ts';

/** GET /metrics: Prometheus text format. */
export default async function metricsRoute(app: FastifyInstance) {
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
}
