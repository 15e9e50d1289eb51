import fp from 'fastify-plugin';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { readFileSync } from 'node:fs';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';

// The OpenAPI 3.1 document is built from the REST routes' own zod schemas (request and response) as the routes
// register; only tagged routes are in it. Served at /openapi.json, and read by the docs UI at /docs (assets from
// the package itself: nothing is fetched from elsewhere).

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string; license?: string };

/** package.json's license: an SPDX id becomes `identifier`; npm's UNLICENSED (no license granted) stays a name. */
function license(id = 'UNLICENSED') {
  return id === 'UNLICENSED' ? { name: 'UNLICENSED (no license is granted)' } : { name: id, identifier: id };
}

type Doc = { paths?: unknown; components?: { schemas?: Record<string, unknown> } };

/** Keeps only the schemas that the paths reach (the zod transform adds an input and an output form of each). */
function withoutUnusedSchemas<T extends Doc>(doc: T): T {
  const schemas = doc.components?.schemas ?? {};
  const used = new Set<string>();
  const visit = (node: unknown) => {
    for (const m of JSON.stringify(node).matchAll(/"#\/components\/schemas\/([^"]+)"/g)) {
      if (!used.has(m[1])) {
        used.add(m[1]);
        visit(schemas[m[1]]);
      }
    }
  };
  visit(doc.paths);
  const kept = Object.fromEntries(Object.entries(schemas).filter(([name]) => used.has(name)));
  return { ...doc, components: { ...doc.components, schemas: kept } };
}

export default fp(async (app: FastifyInstance) => {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'auction-service',
        version: pkg.version,
        description: 'The REST API beside the WebSocket API (docs/protocol.md): the same operations and JSON shapes. '
          + 'Amounts are JSON numbers with at most two decimals (strings such as "601.50" are accepted too). '
          + 'Every error answers `{error: {code, message, details?}}`.',
        license: license(pkg.license),
      },
      servers: [{ url: '/', description: 'this server' }],
      tags: [
        { name: 'auctions', description: 'Create, read and list auctions' },
        { name: 'bids', description: 'Bid, buy now, and read the bid log' },
        { name: 'items', description: 'The things auctions sell' },
      ],
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'its `sub` (a UUID) is the user' } } },
      security: [{ bearer: [] }],
    },
    hideUntagged: true,
    transform: jsonSchemaTransform,
    transformObject: (doc) => withoutUnusedSchemas(jsonSchemaTransformObject(doc)),
  });
  // the package's own CSP upgrades requests to https and allows styles from anywhere; the UI needs neither
  // (Swagger UI sets some styles inline, and "try it out" calls this server)
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    uiConfig: { displayOperationId: true },
    staticCSP: "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
      + "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  });
  app.get('/openapi.json', async () => app.swagger());
}, { name: 'openapi' });
