// GET /live: the live auction page. Its HTML and CSS are src/web/ as they are; its script and the client
// library for browsers are bundled by esbuild into dist/web/ (npm run build, run by make run and make test).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const webDir = fileURLToPath(new URL('../web/', import.meta.url));
const distDir = fileURLToPath(new URL('../../dist/web/', import.meta.url));

type Asset = { body: string; type: string };

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8', map: 'application/json',
};

/** The page's files by URL name: served from memory, read once at start. */
function assets(): Map<string, Asset> {
  const files: [string, string][] = [
    ['index.html', webDir + 'index.html'], ['style.css', webDir + 'style.css'],
    ['app.js', distDir + 'app.js'], ['app.js.map', distDir + 'app.js.map'],
    ['client/index.js', distDir + 'client.js'], ['client/index.js.map', distDir + 'client.js.map'],
  ];
  const out = new Map<string, Asset>();
  for (const [name, path] of files) {
    if (existsSync(path)) out.set(name, { body: readFileSync(path, 'utf8'), type: TYPES[name.split('.').pop()!] });
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
  const files = assets();
  if (!files.has('app.js')) app.log.warn('the live page is not built (dist/web/app.js): run `npm run build`, or make run');
  const send = (reply: FastifyReply, name: string) => {
    const a = files.get(name);
    if (a) return reply.type(a.type).send(a.body);
    if (name.endsWith('.js')) return reply.code(503).send({ error: { code: 'not_built', message: 'the page is not built: run npm run build' } });
    return reply.code(404).send({ error: { code: 'not_found', message: 'not found' } });
  };

  app.addHook('onRequest', async (req, reply) => securityHeaders(req, reply));
  app.get('/', async (_req, reply) => reply.redirect('/live')); // 302: the page is the front door
  app.get('/live', async (_req, reply) => send(reply, 'index.html'));
  app.get('/live/', async (_req, reply) => reply.redirect('/live'));
  app.get<{ Params: { file: string } }>('/live/client/:file', async (req, reply) => send(reply, `client/${req.params.file}`));
  app.get<{ Params: { file: string } }>('/live/:file', async (req, reply) => send(reply, req.params.file === 'index.html' ? '' : req.params.file));
}
