// What a bench run does, from its environment (docs/benchmarks.md lists every variable).
import { z } from 'zod';

const csv = z.string().transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean));
const count = z.string().regex(/^[1-9][0-9]*$/, 'a positive whole number').transform(Number);
const counts = csv.pipe(z.array(count).min(1));

const Env = z.object({
  BENCH_QUICK: z.enum(['', '0', '1']).default('0'),
  BENCH_ONLY: csv.pipe(z.array(z.enum(['spread', 'hot', 'fanout', 'idle', 'channels', 'ending'])).min(1)).optional(),
  // 0: fsync off only; 1: durable only; both: every bid scenario on both
  BENCH_DURABLE: z.enum(['0', '1', 'both']).optional(),
  // 0: leave the anchors out (the minimal bid function, the bare ws floor, the Socket.IO peer)
  BENCH_ANCHORS: z.enum(['0', '1']).default('1'),
  BENCH_FANOUT_N: counts.optional(),
  BENCH_FANOUT_RATES: counts.optional(),
  BENCH_IDLE_N: count.optional(),
  BENCH_SERVER_ENV: z.string().default(''),
});
const parsed = Env.safeParse(process.env);
if (!parsed.success) {
  console.error(`make bench: ${z.prettifyError(parsed.error)}`);
  process.exit(2);
}
const env = parsed.data;

export const QUICK = env.BENCH_QUICK === '1';
export const ONLY: string[] | undefined = env.BENCH_ONLY;
export const DURABLE = env.BENCH_DURABLE;
export const ANCHORS = env.BENCH_ANCHORS === '1';

export const S = QUICK
  ? { rounds: 1, durationMs: 4_000, warmupMs: 1_000, spreadAuctions: 1_000, bidders: 64, fanoutN: [500, 1_000], fanoutRate: 20, fanoutTopRates: [20], fanoutMs: 5_000, fanoutDrainMs: 20_000,
      idleN: 2_000, channelsN: 1_000 }
  : { rounds: 3, durationMs: 5_000, warmupMs: 1_000, spreadAuctions: 1_000, bidders: 64, fanoutN: [500, 1_000, 10_000], fanoutRate: 20, fanoutTopRates: [2, 5, 10, 20], fanoutMs: 10_000, fanoutDrainMs: 30_000,
      idleN: 20_000, channelsN: 10_000 };
// BENCH_FANOUT_N=10000 (a comma list) and BENCH_IDLE_N=20000 override the sizes, e.g. to try 10k in a quick run;
// BENCH_FANOUT_RATES=2,5,20 the bid rates tried in turn at the largest N (the others get fanoutRate).
if (env.BENCH_FANOUT_N) S.fanoutN = env.BENCH_FANOUT_N;
if (env.BENCH_FANOUT_RATES) S.fanoutTopRates = env.BENCH_FANOUT_RATES;
if (env.BENCH_IDLE_N) S.idleN = env.BENCH_IDLE_N;

export const POOL = 10; // DB_POOL_MAX default: the baseline uses as many connections as an instance's pool
export const BIDDER_PROCS = 2;
export const ANCHOR_BATCH = 16; // bids per transaction of the minimal function's batched run
export const HOT_BATCH = 20; // bids per call of the hot auction's place_bids anchor (one connection)

// The bench drives 64 sockets far above a person's rate: lift the per-socket limits, keep everything else default.
// BENCH_SERVER_ENV="BID_BATCH_CONCURRENCY=1,DB_POOL_MAX=20" tries other settings on every instance.
export const OVERRIDES: Record<string, string> = Object.fromEntries(env.BENCH_SERVER_ENV.split(',').filter((kv) => kv.includes('='))
  .map((kv) => kv.trim().split('=', 2)));
export const BENCH_ENV = { WS_RATE_LIMIT_PER_SEC: '100000', WS_RATE_BURST: '100000', WS_USER_RATE_LIMIT_PER_SEC: '100000', WS_USER_RATE_BURST: '100000', WS_UPGRADES_PER_IP_PER_MIN: '10000000', WS_MAX_SUBSCRIPTIONS: '1000', DB_POOL_MAX: String(POOL), ...OVERRIDES };
