import type { FastifyInstance } from 'fastify';
import { registry } from '../metrics.ts';
import { probeLogLevel } from './health.ts';

/** GET /metrics: Prometheus text format. */
export default async function metricsRoute(app: FastifyInstance) {
  app.get('/metrics', probeLogLevel(app), async (_req, reply) => {
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
}
