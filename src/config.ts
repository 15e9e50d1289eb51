import { z } from 'zod';

const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => ['true', '1', 'yes'].includes(v));
const int = (def: number, min = 0, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max).default(def);
const list = z.string().transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean));

// Names follow the original design where one exists (DB_URL, PORT, HOST, LOG_LEVEL, LOG_FORMAT, WS_*).
export const configSchema = z.object({
  DATABASE_URL: z.string().url().optional(),
  DB_URL: z.string().url().optional(),
  DB_POOL_MAX: int(10, 1, 500),
  PORT: int(8080, 0, 65535),
  HOST: z.string().min(1).default('127.0.0.1'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LOG_FORMAT: z.enum(['json', 'pretty']).default('json'),
  INSTANCE_ID: z.string().min(1).max(64).optional(),

  WS_MAX_FRAME_BYTES: int(4096, 256, 1 << 20),
  WS_MAX_SUBSCRIPTIONS: int(200, 1, 100_000),
  WS_RATE_LIMIT_PER_SEC: int(50, 1, 100_000),
  WS_RATE_BURST: int(100, 1, 100_000),
  WS_HEARTBEAT_MS: int(30_000, 100, 3_600_000),
  WS_MAX_BUFFERED_BYTES: int(1 << 20, 1024, 1 << 30),
  SHUTDOWN_GRACE_MS: int(5_000, 0, 600_000),

  JWT_SECRET: z.string().min(32, 'JWT_SECRET must be at least 32 characters').optional(),
  JWT_SECRET_FILE: z.string().min(1).optional(),
  JWT_JWKS_URL: z.string().url().optional(),
  JWT_ISSUER: z.string().min(1).default('auction-service'),
  JWT_AUDIENCE: z.string().min(1).default('auction-service'),
  AUTH_ALLOW_USER_ID_PARAM: bool.default(false),
  ALLOWED_ORIGINS: list.default([]),

  REQUEST_TIMEOUT_MS: int(5_000, 100, 600_000),
  BID_BATCH_MAX: int(64, 1, 1000),
  BID_BATCH_CONCURRENCY: int(2, 1, 100),

  JOB_CONCURRENCY: int(16, 1, 1000),
  JOB_POLL_SECONDS: z.coerce.number().min(0.5).max(60).default(0.5),
  SWEEP_CRON: z.string().min(1).default('* * * * *'),
});

export type Config = z.infer<typeof configSchema> & { databaseUrl: string };

export class ConfigError extends Error {}

/** Validates the environment once; the error lists every bad variable at once. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = configSchema.safeParse(present);
  const lines = parsed.success ? [] : parsed.error.issues.map((i) => `  ${i.path.join('.') || '(env)'}: ${i.message}`);
  if (!present.DATABASE_URL && !present.DB_URL) lines.push('  DATABASE_URL: required (or DB_URL)');
  if (!parsed.success || lines.length > 0) throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  return { ...parsed.data, databaseUrl: (parsed.data.DATABASE_URL ?? parsed.data.DB_URL)! };
}
