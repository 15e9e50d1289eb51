// The orchestrator's child processes: every one it forks is tracked so that a failed scenario can stop them all.
import { sleep, startChild, type Child, type ChildMsg } from './lib.ts';
import { readFileSync } from 'node:fs';
import { BENCH_ENV } from './settings.ts';
import type { WatchResult } from './watchers.ts';

const children = new Set<Child<unknown>>();

export function child<R>(file: string, params: Record<string, unknown>, opts: Parameters<typeof startChild>[2] = {}) {
  const c = startChild<R>(file, params, opts);
  children.add(c as Child<unknown>);
  c.proc.once('exit', () => children.delete(c as Child<unknown>));
  return c;
}

export const stopAll = () => { for (const c of children) c.stop(); };

/**
 * A server process: a service instance (server.ts) or an anchor's (anchors/ws-floor.ts, anchors/socketio-peer.ts).
 * Each answers 'stats' with its CPU time and event-loop delay since the last 'stats', 'close', and the profile messages.
 */
export type Server = { url: string; child: Child<never>; stats: () => Promise<ChildMsg>; profile: (on: boolean) => Promise<unknown>; close: () => Promise<void> };

/** The V8 flags of the production entry (package.json's start script): every server here runs with them. */
const INSTANCE_FLAGS = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { scripts: { start: string } })
  .scripts.start.split(/\s+/).filter((a) => a.startsWith('--'));

export async function startProcess(file: string, params: Record<string, unknown>, opts: { nofile?: number; gc?: boolean } = {}): Promise<Server> {
  const c = child<never>(file, params, { nofile: opts.nofile ?? 100_000, execArgv: [...INSTANCE_FLAGS, ...(opts.gc ? ['--expose-gc'] : [])] });
  const ready = await c.ready;
  return {
    url: (ready.url as string | undefined) ?? `ws://127.0.0.1:${ready.port}/ws`,
    child: c,
    stats: () => c.request({ type: 'stats' }, 'stats'),
    profile: (on) => (process.env.BENCH_PROFILE ? c.request({ type: on ? 'profile-start' : 'profile-stop' }, on ? 'profiling' : 'profiled') : Promise.resolve()),
    close: async () => {
      await Promise.race([c.request({ type: 'close' }, 'closed').catch(() => {}), sleep(15_000)]);
      c.stop();
    },
  };
}

/** A service instance on `databaseUrl` with the bench's settings and `env` on top. */
export function startServer(databaseUrl: string, env: Record<string, string> = {}, opts: { nofile?: number; gc?: boolean } = {}): Promise<Server> {
  return startProcess('server.ts', { databaseUrl, env: { ...BENCH_ENV, ...env } }, opts);
}

const localAddr = (k: number) => `127.0.0.${2 + k}`;

/**
 * Opens `n` watcher sockets over several client processes (each from its own source address): the service's
 * protocol on `ws` (watchers.ts, also what the bare ws floor speaks), or Socket.IO (anchors/socketio-watchers.ts).
 */
export async function watchers(urls: string[], n: number, opts: { firstUser: number; auctions?: string[]; perSocket?: number; slice?: boolean; holdMs: number; perProc?: number;
  file?: string }) {
  const perProc = opts.perProc ?? 2_500;
  const procs: Child<WatchResult>[] = [];
  for (let k = 0, left = n; left > 0; k++, left -= perProc) {
    const count = Math.min(perProc, left);
    procs.push(child<WatchResult>(opts.file ?? 'watchers.ts', {
      urls, count, firstUser: opts.firstUser + k * perProc, localAddress: localAddr(k), auctions: opts.auctions ?? [],
      perSocket: opts.perSocket ?? 0, slice: opts.slice ?? false, connectConcurrency: 64, setupLimitMs: 180_000,
      holdMs: opts.holdMs, hardLimitMs: 180_000 + opts.holdMs + 60_000,
    }, { nofile: 50_000 }));
  }
  const started = Date.now();
  const ready = await Promise.all(procs.map((p) => p.ready));
  const connected = ready.reduce((a, r) => a + (r.connected as number), 0);
  const failed = ready.reduce((a, r) => a + (r.failed as number), 0);
  const firstError = ready.find((r) => r.firstError)?.firstError as string | undefined;
  return { procs, connected, failed, firstError, setupS: (Date.now() - started) / 1000 };
}
