// Entry point: validate config, build, listen, close with grace on SIGTERM/SIGINT.
// Every start-up failure is one line on stderr: exit 2 for configuration, 1 for the rest.
import { pathToFileURL } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { ConfigError, loadConfig, loadEnvFile, type Config } from './config.ts';
import { build } from './build.ts';

export async function main(opts: { afterClose?: () => Promise<void> } = {}) {
  let app: FastifyInstance | undefined;
  let closing = false;
  const shutdown = async (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    if (!app) {
      // interrupted while starting: nothing to drain
      await opts.afterClose?.();
      process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
    }
    app.log.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      app!.log.error('shutdown took too long; exiting');
      process.exit(1);
    }, config.SHUTDOWN_GRACE_MS + 10_000).unref();
    // stop taking work, drain sockets and bid batches, close LISTEN, jobs and the pool (in app's close hooks),
    // then the embedded database, if this process started one
    let code = 0;
    await app.close().catch((err) => {
      app!.log.error({ err }, 'shutdown failed');
      code = 1;
    });
    await opts.afterClose?.();
    clearTimeout(timer);
    process.exit(code);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  let config: Config;
  try {
    loadEnvFile();
    config = loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(err.message);
    await opts.afterClose?.();
    process.exit(2);
  }
  try {
    app = await build({ config });
    await app.listen({ port: config.PORT, host: config.HOST });
  } catch (err) {
    console.error(startupFailure(err, config));
    await opts.afterClose?.();
    process.exit(1);
  }
  return app;
}

/** One line for a start-up that failed after the configuration was read. */
function startupFailure(err: unknown, config: Config) {
  const { code, message } = err as Error & { code?: string };
  const where = `${config.HOST}:${config.PORT}`;
  if (code === 'EADDRINUSE') return `cannot listen on ${where}: the port is in use; stop what holds it or set PORT to a free port`;
  if (code === 'EACCES') return `cannot listen on ${where}: not permitted (ports below 1024 need privileges); set PORT`;
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') return `cannot listen on ${where} (${code}): set HOST to an address of this machine`;
  return `start-up failed: ${String(message ?? err).split('\n')[0]}`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}
