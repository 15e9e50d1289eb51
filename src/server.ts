// Entry point: validate config, build, listen, close with grace on SIGTERM/SIGINT.
import { ConfigError, loadConfig } from './config.ts';
import { build } from './build.ts';

export async function main(opts: { afterClose?: () => Promise<void> } = {}) {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(2);
    }
    throw err;
  }
  const app = await build({ config });
  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      app.log.error('shutdown took too long; exiting');
      process.exit(1);
    }, config.SHUTDOWN_GRACE_MS + 10_000).unref();
    await app.close();
    await opts.afterClose?.();
    clearTimeout(timer);
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  await app.listen({ port: config.PORT, host: config.HOST });
  return app;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await main();
}
