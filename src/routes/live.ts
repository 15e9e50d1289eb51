// GET /live: a small live auction page (src/web/) on the client library (src/client/), which is served
// to the browser as JavaScript built here at start-up: each module's types stripped, `.ts` imports made `.js`.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { stripTypeScriptTypes } from 'node:module';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const clientDir = fileURLToPath(new URL('../client/', import.meta.url));
const webDir = fileURLToPath(new URL('../web/', import.meta.url));

type Asset = { body: string; type: string };

/** src/client/*.ts as browser ES modules, by file name (`client.js`, `index.js`, ...). */
export function buildClientModules(dir = clientDir): Map<string, Asset> {
  const out = new Map<string, Asset>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')).sort()) {
    const js = quietly(() => stripTypeScriptTypes(readFileSync(dir + file, 'utf8'), { mode: 'strip' }))
      .replace(/(\bfrom\s*|\bimport\s*)(['"])(\.\.?\/[^'"]+)\.ts\2/g, '$1$2$3.js$2');
    out.set(file.replace(/\.ts$/, '.js'), { body: js, type: 'text/javascript; charset=utf-8' });
  }
  return out;
}

/** Runs `fn` without Node's one-time "stripTypeScriptTypes is an experimental feature" warning (Node 24). */
function quietly<T>(fn: () => T): T {
  const emit = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    if (String(warning).includes('stripTypeScriptTypes')) return;
    (emit as (...a: unknown[]) => void).call(process, warning, ...rest);
  }) as typeof process.emitWarning;
  try {
    return fn();
  } finally {
    process.emitWarning = emit;
  }
}

const WEB_TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8',
};

function webAssets(dir = webDir): Map<string, Asset> {
  const out = new Map<string, Asset>();
  for (const file of readdirSync(dir)) {
    const type = WEB_TYPES[file.split('.').pop() ?? ''];
    if (type) out.set(file, { body: readFileSync(dir + file, 'utf8'), type });
  }
  return out;
}

/** The page only talks to its own origin; the token rides in the URL fragment, which is never sent. */
function securityHeaders(req: FastifyRequest, reply: FastifyReply) {
  const host = req.headers.host ?? '';
  const ws = req.protocol === 'https' ? `wss://${host}` : `ws://${host}`;
  reply.header('content-security-policy', [
    "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
    `connect-src 'self' ${ws}`, "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
  ].join('; '));
  reply.header('x-content-type-options', 'nosniff');
  reply.header('x-frame-options', 'DENY');
  reply.header('referrer-policy', 'no-referrer');
  reply.header('cache-control', 'no-cache');
}

export default async function liveRoutes(app: FastifyInstance) {
  let modules: Map<string, Asset> | undefined; // built on the first request for them
  const web = webAssets();
  const send = (reply: FastifyReply, a: Asset | undefined) => (a ? reply.type(a.type).send(a.body)
    : reply.code(404).send({ error: { code: 'not_found', message: 'not found' } }));

  app.addHook('onRequest', async (req, reply) => securityHeaders(req, reply));
  app.get('/', async (_req, reply) => reply.redirect('/live')); // 302: the page is the front door
  app.get('/live', async (_req, reply) => send(reply, web.get('index.html')));
  app.get('/live/', async (_req, reply) => reply.redirect('/live'));
  app.get<{ Params: { file: string } }>('/live/client/:file', async (req, reply) => send(reply, (modules ??= buildClientModules()).get(req.params.file)));
  app.get<{ Params: { file: string } }>('/live/:file', async (req, reply) => send(reply, req.params.file === 'index.html' ? undefined : web.get(req.params.file)));
}
