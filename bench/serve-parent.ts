// The parent protocol of a server process (a service instance, bench/server.ts, or an anchor's server):
// {type:'stats'} -> CPU time, event-loop delay since the last 'stats', sockets held, plus the server's own figures;
// {type:'close'} -> close, exit; 'profile-start' / 'profile-stop' -> a CPU profile in between when BENCH_PROFILE is set.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { startProfile } from './lib.ts';

const RESOLUTION_MS = 1;

type Options = {
  /** what the parent gets with 'ready' */
  ready: Record<string, unknown>;
  connections: () => number;
  close: () => Promise<void>;
  /** more figures for each 'stats' answer */
  stats?: () => Promise<Record<string, unknown>>;
  /** more message types this server answers */
  more?: Record<string, () => Promise<Record<string, unknown>>>;
};

export function serveParent(opts: Options) {
  process.on('disconnect', () => process.exit(0));
  const eld = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  eld.enable();
  // the histogram records the interval between its timer's runs: take away the interval itself
  const delay = (ns: number) => Math.max(0, ns / 1e6 - RESOLUTION_MS);
  let profile: Awaited<ReturnType<typeof startProfile>>;
  process.on('message', async (m: { type: string }) => {
    if (m.type === 'profile-start') {
      profile = await startProfile();
      process.send!({ type: 'profiling' });
    } else if (m.type === 'profile-stop') {
      await profile?.stop();
      profile = undefined;
      process.send!({ type: 'profiled' });
    } else if (m.type === 'stats') {
      const extra = await opts.stats?.() ?? {};
      const cpu = process.cpuUsage();
      const loop = { loopP99Ms: delay(eld.percentile(99)), loopMaxMs: delay(eld.max) };
      eld.reset();
      process.send!({ type: 'stats', cpuSeconds: (cpu.user + cpu.system) / 1e6, cpuSystemSeconds: cpu.system / 1e6, ...loop, connections: opts.connections(), ...extra });
    } else if (opts.more?.[m.type]) {
      process.send!({ type: m.type, ...await opts.more[m.type]() });
    } else if (m.type === 'close') {
      await opts.close().catch(() => {});
      process.send!({ type: 'closed' }, () => process.exit(0));
    }
  });
  process.send!({ type: 'ready', ...opts.ready });
}
