import Fastify, { type FastifyInstance } from 'fastify';
import { randomUUID } from 'node:crypto';
import app, { type AppOptions } from './app.ts';
import { clientErrorHandler, errorHandler } from './routes/errors.ts';

export function loggerOptions(config: AppOptions['config']) {
  return {
    level: config.LOG_LEVEL,
    // tokens may ride in the query string; never log them
    redact: { paths: ['req.headers.authorization', 'req.query.token'], censor: '[redacted]' },
    serializers: {
      req: (req: { method: string; url: string; id: string }) => ({
        method: req.method, url: req.url.replace(/([?&]token=)[^&]*/g, '$1[redacted]'), id: req.id }),
    },
    ...(config.LOG_FORMAT === 'pretty' ? { transport: { target: 'pino-pretty' } } : {}),
  };
}

// a hop count trusts that many proxies from the socket's end (fastify's rule for a number, which its types omit)
const trustProxy = (v: boolean | number | string[]) => typeof v === 'number' ? (_addr: string, hop: number) => hop < v : v;

/** Builds the fastify instance with the app registered; the caller listens and closes. */
export async function build(opts: AppOptions & { logger?: boolean; logStream?: NodeJS.WritableStream }): Promise<FastifyInstance> {
  const fastify = Fastify({
    logger: opts.logger === false ? false
      : opts.logStream ? { ...loggerOptions(opts.config), stream: opts.logStream } : loggerOptions(opts.config),
    genReqId: () => randomUUID(),
    forceCloseConnections: false,
    // behind a proxy (deploy/nginx.conf) req.ip is the client's only when the proxy is trusted
    trustProxy: trustProxy(opts.config.TRUST_PROXY),
    bodyLimit: 64 * 1024,
    // a bad URL (before routing) and a request that is not HTTP answer in the API's error shape too
    frameworkErrors: (err, req, reply) => errorHandler.call(req.server, err, req, reply),
    clientErrorHandler,
  });
  await fastify.register(app, opts);
  return fastify;
}
