// One service instance in its own process, so load generators never share its event loop.
// Parent messages: {type:'stats'} -> memory and counts; {type:'close'} -> graceful close and exit.
import { build } from '../src/build.ts';
import { loadConfig } from '../src/config.ts';
import { metrics } from '../src/metrics.ts';
import { BENCH_SECRET } from './lib.ts';

const params = JSON.parse(process.env.BENCH_PARAMS ?? '{}') as { databaseUrl: string; env?: Record<string, string> };
process.on('disconnect', () => process.exit(0));

const config = loadConfig({
  DATABASE_URL: params.databaseUrl, JWT_SECRET: BENCH_SECRET, PORT: '0', LOG_LEVEL: 'silent', ...params.env });
const app = await build({ config, logger: false });
await app.listen({ port: 0, host: '127.0.0.1' });
const { port } = app.server.address() as { port: number };

const gc = (globalThis as { gc?: () => void }).gc;

process.on('message', async (m: { type: string }) => {
  if (m.type === 'stats') {
    if (gc) { gc(); gc(); }
    const mem = process.memoryUsage();
    const batch = (await metrics.bidBatchSize.get()).values;
    const sum = batch.find((v) => v.metricName === 'auction_bid_batch_size_sum')?.value ?? 0;
    const count = batch.find((v) => v.metricName === 'auction_bid_batch_size_count')?.value ?? 0;
    const db = (await metrics.bidLatency.get()).values;
    const dbSum = db.find((v) => v.metricName === 'auction_bid_seconds_sum')?.value ?? 0;
    const dbCount = db.find((v) => v.metricName === 'auction_bid_seconds_count')?.value ?? 0;
    const cpu = process.cpuUsage();
    process.send!({ type: 'stats', dbSeconds: dbSum, dbCalls: dbCount, cpuSeconds: (cpu.user + cpu.system) / 1e6, rss: mem.rss, heapUsed: mem.heapUsed, external: mem.external,
      connections: app.connections.size, feeds: app.feeds.size, batches: count, batchedBids: sum });
  } else if (m.type === 'close') {
    await app.close();
    process.send!({ type: 'closed' }, () => process.exit(0));
  }
});
process.send!({ type: 'ready', port });
