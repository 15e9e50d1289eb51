// One service instance in its own process, so load generators never share its event loop.
// Parent messages (bench/serve-parent.ts): {type:'stats'} -> memory and counts too; {type:'close'} -> graceful close, exit.
import { openSync, readSync } from 'node:fs';
import { getHeapSpaceStatistics, getHeapStatistics, writeHeapSnapshot } from 'node:v8';
import { join } from 'node:path';
import { build } from '../src/build.ts';
import { loadConfig } from '../src/config.ts';
import { metrics } from '../src/metrics.ts';
import { BENCH_SECRET, childParams } from './lib.ts';
import { serveParent } from './serve-parent.ts';

const params = childParams<{ databaseUrl: string; env?: Record<string, string> }>();

const config = loadConfig({
  DATABASE_URL: params.databaseUrl, JWT_SECRET: BENCH_SECRET, PORT: '0', LOG_LEVEL: 'silent', ...params.env });
const app = await build({ config, logger: false });
await app.listen({ port: 0, host: '127.0.0.1' });
const { port } = app.server.address() as { port: number };

// process.memoryUsage() opens /proc/self/stat, which fails with EMFILE when sockets took every descriptor:
// keep /proc/self/statm open from the start and read it in place.
const statm = openSync('/proc/self/statm', 'r');
const page = 4096;
function memory() {
  const buf = Buffer.alloc(256);
  const n = readSync(statm, buf, 0, 256, 0);
  const rss = Number(buf.toString('utf8', 0, n).split(' ')[1]) * page;
  return { rss, ...v8heap() };
}
function v8heap() {
  const s = getHeapStatistics();
  // committed bytes per V8 space: the young generation grows under a burst of connections and is part of RSS
  const spaces = Object.fromEntries(getHeapSpaceStatistics().map((x) => [x.space_name, x.space_size]));
  return { heapUsed: s.used_heap_size, heapCommitted: s.total_heap_size, external: s.external_memory, spaces };
}

const gc = (globalThis as { gc?: () => void }).gc;

serveParent({
  ready: { port },
  connections: () => app.connections.size,
  close: () => app.close(),
  stats: async () => {
    if (gc) { gc(); gc(); }
    const mem = memory();
    const batch = (await metrics.bidBatchSize.get()).values;
    const sum = batch.find((v) => v.metricName === 'auction_bid_batch_size_sum')?.value ?? 0;
    const count = batch.find((v) => v.metricName === 'auction_bid_batch_size_count')?.value ?? 0;
    const db = (await metrics.bidLatency.get()).values;
    const dbSum = db.find((v) => v.metricName === 'auction_bid_seconds_sum')?.value ?? 0;
    const dbCount = db.find((v) => v.metricName === 'auction_bid_seconds_count')?.value ?? 0;
    // commit (data.time) to the start of this instance's broadcast, cumulative bucket counts
    const lag = (await metrics.notifyLag.get()).values.filter((v) => v.metricName === 'auction_notify_to_send_seconds_bucket')
      .map((v) => [String(v.labels.le), v.value] as [string, number]); // '+Inf' survives JSON, Infinity would not
    return { dbSeconds: dbSum, dbCalls: dbCount, lag, rss: mem.rss, heapUsed: mem.heapUsed, external: mem.external, spaces: mem.spaces,
      feeds: app.feeds.size, batches: count, batchedBids: sum };
  },
  more: {
    // BENCH_PROFILE=<dir>: where the idle scenario's sockets go, object by object (Chrome DevTools, Memory tab)
    'heap-snapshot': async () => ({
      file: process.env.BENCH_PROFILE ? writeHeapSnapshot(join(process.env.BENCH_PROFILE, `server-${process.pid}.heapsnapshot`)) : undefined }),
  },
});
