import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import cors from '@fastify/cors';
import type { Config } from './config.ts';
import database from './plugins/database.ts';
import lifecycle from './lifecycle/plugin.ts';
import healthRoutes from './routes/health.ts';
import metricsRoute from './routes/metrics.ts';
import openapiRoute from './routes/openapi.ts';
import restRoutes from './routes/rest/index.ts';
import { errorHandler, notFoundHandler } from './routes/errors.ts';
import auth from './plugins/auth.ts';
import auctions from './plugins/auctions.ts';
import websocketApi from './realtime/ws-route.ts';

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
    /** Named checks that /ready reports; plugins add theirs. */
    readinessChecks: Map<string, () => boolean>;
  }
}

export type AppOptions = { config: Config; migrate?: boolean };

/** The whole service as one plugin; src/server.ts only builds, listens and closes. */
export default fp(async (app: FastifyInstance, opts: AppOptions) => {
  app.decorate('config', opts.config);
  app.decorate('readinessChecks', new Map<string, () => boolean>());
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  // Browsers on ALLOWED_ORIGINS may call the REST API; with none listed, no other origin may (same origin needs no CORS).
  await app.register(cors, {
    origin: opts.config.ALLOWED_ORIGINS, methods: ['GET', 'HEAD', 'POST'],
    allowedHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key'], maxAge: 600, strictPreflight: false,
  });
  await app.register(database, { url: opts.config.databaseUrl, ownerUrl: opts.config.DATABASE_OWNER_URL, poolMax: opts.config.DB_POOL_MAX, migrate: opts.migrate ?? true });
  await app.register(lifecycle);
  await app.register(auctions);
  await app.register(auth);
  await app.register(websocketApi);
  await app.register(healthRoutes);
  await app.register(metricsRoute);
  await app.register(openapiRoute);
  await app.register(restRoutes);
  await app.register(import('./routes/live.ts')); // the live page (src/web) and the browser build of src/client
}, { name: 'auction-app' });
