import { z } from 'zod';
import { PgBoss } from 'pg-boss';
import { isIP } from 'node:net';
import { loadSecret } from './auth/secret.ts';

const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => ['true', '1', 'yes'].includes(v));
const int = (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max).default(def);
const list = z.string().transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean));

// fastify's trustProxy: true/false, a hop count, or a list of addresses or CIDRs (the proxies to trust)
const trustProxy = z.string().trim().min(1).transform((s): boolean | number | string[] => {
  if (['true', 'false'].includes(s)) return s === 'true';
  if (/^\d+$/.test(s)) return Number(s);
  return s.split(',').map((x) => x.trim()).filter(Boolean);
}).refine((v) => !Array.isArray(v) || v.every((a) => isIP(a.split('/')[0]!) !== 0), 'true, false, a hop count, or a comma-separated list of addresses or CIDRs');

// Names follow the original design where one exists (DB_URL, PORT, HOST, LOG_LEVEL, LOG_FORMAT, WS_*).
export const configSchema = z.object({
  DATABASE_URL: z.string().url().optional(),
  DB_URL: z.string().url().optional(),
  DATABASE_OWNER_URL: z.string().url().optional(),
  DB_POOL_MAX: int(10, 1, 500),
  DB_CONNECT_TIMEOUT_SECONDS: int(30, 0, 3600),
  PORT: int(8080, 0, 65535),
  HOST: z.string().min(1).default('127.0.0.1'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_FORMAT: z.enum(['json', 'pretty']).default('json'),
  INSTANCE_ID: z.string().min(1).max(64).optional(),

  WS_MAX_FRAME_BYTES: int(4096, 256, 1 << 20),
  /** the dialect of a socket that names none (Sec-WebSocket-Protocol): ours, or the original design's */
  WS_DEFAULT_DIALECT: z.enum(['auction', 'original']).default('auction'),
  WS_MAX_SUBSCRIPTIONS: int(200, 1, 100_000),
  WS_RATE_LIMIT_PER_SEC: int(50, 1, 100_000),
  WS_RATE_BURST: int(100, 1, 100_000),
  WS_MAX_SOCKETS_PER_USER: int(20, 1, 1_000_000),
  WS_USER_RATE_LIMIT_PER_SEC: int(100, 1, 1_000_000),
  WS_USER_RATE_BURST: int(200, 1, 1_000_000),
  WS_UPGRADES_PER_IP_PER_MIN: int(600, 1, 10_000_000),
  WS_REPLAY_ROWS_PER_SEC: int(2_000, 1, 10_000_000),
  WS_REPLAY_BURST: int(10_000, 1, 10_000_000),
  WS_HEARTBEAT_MS: int(30_000, 100, 3_600_000),
  WS_MAX_BUFFERED_BYTES: int(1 << 20, 1024, 1 << 30),
  WS_BROADCAST_COALESCE_MS: int(0, 0, 1000),
  SHUTDOWN_GRACE_MS: int(5_000, 0, 600_000),

  JWT_SECRET: z.string().min(32, 'the key needs at least 32 characters').optional(),
  JWT_SECRET_FILE: z.string().min(1).optional(),
  JWT_JWKS_URL: z.string().url().optional(),
  JWT_ISSUER: z.string().min(1).default('auction-service'),
  JWT_AUDIENCE: z.string().min(1).default('auction-service'),
  AUTH_ALLOW_USER_ID_PARAM: bool.default(false),
  ALLOWED_ORIGINS: list.default([]),
  TRUST_PROXY: trustProxy.default(false),

  REST_RATE_LIMIT_PER_MIN: int(1200, 1, 10_000_000),
  REQUEST_TIMEOUT_MS: int(5_000, 100, 600_000),
  BID_BATCH_MAX: int(64, 1, 1000),
  BID_BATCH_CONCURRENCY: int(2, 1, 100),

  JOB_CONCURRENCY: int(16, 1, 1000),
  JOB_POLL_SECONDS: z.coerce.number().min(0.5).max(60).default(0.5),
  SWEEP_CRON: z.string().min(1).default('* * * * *'),
});

export type Config = z.infer<typeof configSchema> & {
  databaseUrl: string;
  /** the HS256 key from JWT_SECRET or JWT_SECRET_FILE; undefined when tokens are checked against JWT_JWKS_URL */
  jwtSecret?: Uint8Array;
};

export class ConfigError extends Error {}

/** Reads ./.env (if there is one) into process.env; a variable already set wins over the file. */
export function loadEnvFile(path = '.env') {
  try {
    process.loadEnvFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new ConfigError(`invalid configuration: ${path}: ${(err as Error).message}`);
  }
}

const present = (env: Record<string, string | undefined>) =>
  Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));

const issueLines = (error: z.ZodError) => error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`);

// one line, whatever a value or a library's message holds
const invalid = (problems: string[]) => new ConfigError(`invalid configuration: ${problems.join('; ').replace(/\s*[\r\n]+\s*/g, ' ')}`);

const NO_DATABASE = 'DATABASE_URL: required (or DB_URL), a postgres:// URL; `make run` starts an embedded PostgreSQL for development';

/**
 * Validates the environment once, before anything touches the database: the error lists every bad
 * variable on one line. Beyond the schema it reads the JWT key file and parses SWEEP_CRON as pg-boss will.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const vars = present(env);
  const parsed = configSchema.safeParse(vars);
  const problems = parsed.success ? [] : issueLines(parsed.error);
  if (!vars.DATABASE_URL && !vars.DB_URL) problems.push(NO_DATABASE);

  let jwtSecret: Uint8Array | undefined;
  if (!vars.JWT_SECRET && !vars.JWT_SECRET_FILE && !vars.JWT_JWKS_URL) {
    problems.push('JWT_SECRET, JWT_SECRET_FILE or JWT_JWKS_URL: required, the key that checks tokens (`make run` creates .data/jwt-secret)');
  } else if (!vars.JWT_SECRET && vars.JWT_SECRET_FILE) {
    try {
      jwtSecret = loadSecret({ JWT_SECRET_FILE: vars.JWT_SECRET_FILE });
    } catch (err) {
      problems.push((err as Error).message);
    }
  } else if (vars.JWT_SECRET && vars.JWT_SECRET.length >= 32) {
    jwtSecret = loadSecret({ JWT_SECRET: vars.JWT_SECRET });
  }
  if (vars.SWEEP_CRON) {
    const cronProblem = checkSchedule(vars.SWEEP_CRON);
    if (cronProblem) problems.push(`SWEEP_CRON: ${cronProblem}; e.g. "* * * * *" for every minute`);
  }

  if (!parsed.success || problems.length > 0) throw invalid(problems);
  return { ...parsed.data, databaseUrl: (parsed.data.DATABASE_URL ?? parsed.data.DB_URL)!, jwtSecret };
}

const databaseSchema = configSchema.pick({ DATABASE_URL: true, DB_URL: true, DB_CONNECT_TIMEOUT_SECONDS: true });

/** What the database tools (`npm run migrate`) need: the URL and how long to wait for it. */
export function loadDatabaseConfig(env: Record<string, string | undefined> = process.env) {
  const vars = present(env);
  const parsed = databaseSchema.safeParse(vars);
  const problems = parsed.success ? [] : issueLines(parsed.error);
  if (!vars.DATABASE_URL && !vars.DB_URL) problems.push(NO_DATABASE);
  if (!parsed.success || problems.length > 0) throw invalid(problems);
  return { ...parsed.data, databaseUrl: (parsed.data.DATABASE_URL ?? parsed.data.DB_URL)! };
}

/** pg-boss's own check of a schedule (cron or RRULE), which needs no connection: what it accepts, schedule() accepts. */
function checkSchedule(expression: string): string | undefined {
  try {
    new PgBoss({}).previewSchedule(expression, { count: 1 });
    return undefined;
  } catch (err) {
    return `${JSON.stringify(expression)} is not a schedule pg-boss accepts (${(err as Error).message})`;
  }
}
