// One service instance in its own process, so load generators never share its event loop.
// Parent messages: {type:'stats'} -> memory and counts; {type:'close'} -> graceful close and exit.
import { openSync, readSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { getHeapStatistics, writeHeapSnapshot } from 'node:v8';
import { join } from 'node:path';
import { build } from '../src/build.ts';
import { loadConfig } from '../src/config.ts';
import { metrics } from '../src/metrics.ts';
import { BENCH_SECRET, childParams, startProfile } from './lib.ts';

const params = childParams<{ databaseUrl: string; env?: Record<string, string> }>();
process.on('disconnect', () => process.exit(0));

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
  return { heapUsed: s.used_heap_size, external: s.external_memory };
}

const gc = (globalThis as { gc?: () => void }).gc;

// Event-loop delay between two 'stats' requests (the bench's own, finer than /metrics' 10 ms sampling)
const ELD_RESOLUTION_MS = 1;
const eld = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
eld.enable();

let profile: Awaited<ReturnType<typeof startProfile>>;

process.on('message', async (m: { type: string }) => {
  if (m.type === 'profile-start') {
    profile = await startProfile();
    process.send!({ type: 'profiling' });
  } else if (m.type === 'profile-stop') {
    await profile?.stop();
    profile = undefined;
    process.send!({ type: 'profiled' });
  } else if (m.type === 'heap-snapshot') {
    // BENCH_PROFILE=<dir>: where the idle scenario's sockets go, object by object (Chrome DevTools, Memory tab)
    const file = process.env.BENCH_PROFILE ? writeHeapSnapshot(join(process.env.BENCH_PROFILE, `server-${process.pid}.heapsnapshot`)) : undefined;
    process.send!({ type: 'heap-snapshot', file });
  } else if (m.type === 'stats') {
    if (gc) { gc(); gc(); }
    const mem = memory();
    const batch = (await metrics.bidBatchSize.get()).values;
    const sum = batch.find((v) => v.metricName === 'auction_bid_batch_size_sum')?.value ?? 0;
    const count = batch.find((v) => v.metricName === 'auction_bid_batch_size_count')?.value ?? 0;
    const db = (await metrics.bidLatency.get()).values;
    const dbSum = db.find((v) => v.metricName === 'auction_bid_seconds_sum')?.value ?? 0;
    const dbCount = db.find((v) => v.metricName === 'auction_bid_seconds_count')?.value ?? 0;
    const cpu = process.cpuUsage();
    // the histogram records the interval between its timer's runs: take away the interval itself
    const delay = (ns: number) => Math.max(0, ns / 1e6 - ELD_RESOLUTION_MS);
    const loop = { loopP99Ms: delay(eld.percentile(99)), loopMaxMs: delay(eld.max) };
    eld.reset();
    // commit (data.time) to the start of this instance's broadcast, cumulative bucket counts
    const lag = (await metrics.notifyLag.get()).values.filter((v) => v.metricName === 'auction_notify_to_send_seconds_bucket')
      .map((v) => [String(v.labels.le), v.value] as [string, number]); // '+Inf' survives JSON, Infinity would not
    process.send!({ type: 'stats', dbSeconds: dbSum, dbCalls: dbCount, cpuSeconds: (cpu.user + cpu.system) / 1e6, cpuSystemSeconds: cpu.system / 1e6, ...loop, lag, rss: mem.rss, heapUsed: mem.heapUsed, external: mem.external,
      connections: app.connections.size, feeds: app.feeds.size, batches: count, batchedBids: sum });
  } else if (m.type === 'close') {
    await app.close();
    process.send!({ type: 'closed' }, () => process.exit(0));
  }
});
process.send!({ type: 'ready', port });
