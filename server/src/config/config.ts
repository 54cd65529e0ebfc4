import path from 'node:path';
import v8 from 'node:v8';
import { envSchema } from './config-schema.ts';

/** Typed, validated, frozen configuration: read once at start and passed down. */
export type Config = Readonly<{
  databaseUrl: string | undefined;
  port: number;
  host: string;
  publicUrl: string;
  role: 'all' | 'api' | 'worker';
  dataDir: string;
  allowedCidrs: string | undefined;
  encryptionKey: Buffer | undefined;
  bootstrapApiKey: string | undefined;
  providerBaseUrls: Readonly<Record<string, string>>;
  trustProxy: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  rateLimitPerMinute: number;
  callbackRateLimitPerMinute: number;
  maxBodyBytes: number;
  maxCallbackBytes: number;
  maxResponseBytes: number;
  /** The byte budget of response bodies in flight (dispatch/byte-budget.ts). */
  responseMemoryBytes: number;
  maxWaitTime: number;
  retentionDays: number;
  dbPoolSize: number;
  jobTakeoverSeconds: number;
  authFailureLimitPerMinute: number;
  maxConnections: number;
  httpHeadersTimeoutSeconds: number;
  httpRequestTimeoutSeconds: number;
  /** Live events: heartbeat interval and caps on open streams (events/). */
  eventsHeartbeatSeconds: number;
  eventsMaxStreams: number;
  eventsMaxStreamsPerTeam: number;
  version: string;
}>;

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export const VERSION = '0.1.0';

/**
 * Why half the heap limit: response bodies in flight are the one use of memory that grows with the
 * targets' answers; the other half is left to everything else (rows, long-polls, the ORM, pg-boss).
 */
function defaultResponseMemoryBytes(): number {
  return Math.floor(v8.getHeapStatistics().heap_size_limit / 2);
}

/** Validates the environment; throws ConfigError listing every problem at once. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const name = issue.path.join('.') || '(environment)';
        return issue.message.startsWith(name) ? issue.message : `${name}: ${issue.message}`;
      }),
    );
  }
  const e = parsed.data;
  return Object.freeze({
    databaseUrl: e.DATABASE_URL,
    port: e.PORT,
    host: e.HOST,
    publicUrl: (e.PUBLIC_URL ?? `http://localhost:${e.PORT}`).replace(/\/+$/, ''),
    role: e.ASYNCQUEUE_ROLE,
    dataDir: path.resolve(e.ASYNCQUEUE_DATA_DIR),
    allowedCidrs: e.ASYNCQUEUE_ALLOWED_CIDRS,
    encryptionKey: e.ASYNCQUEUE_ENCRYPTION_KEY ? Buffer.from(e.ASYNCQUEUE_ENCRYPTION_KEY, 'base64') : undefined,
    bootstrapApiKey: e.ASYNCQUEUE_BOOTSTRAP_API_KEY,
    providerBaseUrls: Object.freeze({ ...(e.ASYNCQUEUE_PROVIDER_BASE_URLS ?? {}) }),
    trustProxy: e.TRUST_PROXY,
    logLevel: e.LOG_LEVEL,
    rateLimitPerMinute: e.ASYNCQUEUE_RATE_LIMIT_PER_MINUTE,
    callbackRateLimitPerMinute: e.ASYNCQUEUE_CALLBACK_RATE_LIMIT_PER_MINUTE,
    maxBodyBytes: e.ASYNCQUEUE_MAX_BODY_BYTES,
    maxCallbackBytes: e.ASYNCQUEUE_MAX_CALLBACK_BYTES,
    maxResponseBytes: e.ASYNCQUEUE_MAX_RESPONSE_BYTES,
    responseMemoryBytes: e.ASYNCQUEUE_RESPONSE_MEMORY_BYTES ?? defaultResponseMemoryBytes(),
    maxWaitTime: e.ASYNCQUEUE_MAX_WAIT_TIME,
    retentionDays: e.ASYNCQUEUE_RETENTION_DAYS,
    dbPoolSize: e.ASYNCQUEUE_DB_POOL_SIZE,
    jobTakeoverSeconds: e.ASYNCQUEUE_JOB_TAKEOVER_SECONDS,
    authFailureLimitPerMinute: e.ASYNCQUEUE_AUTH_FAILURE_LIMIT_PER_MINUTE,
    maxConnections: e.ASYNCQUEUE_MAX_CONNECTIONS,
    httpHeadersTimeoutSeconds: e.ASYNCQUEUE_HTTP_HEADERS_TIMEOUT_SECONDS,
    httpRequestTimeoutSeconds: e.ASYNCQUEUE_HTTP_REQUEST_TIMEOUT_SECONDS,
    eventsHeartbeatSeconds: e.ASYNCQUEUE_EVENTS_HEARTBEAT_SECONDS,
    eventsMaxStreams: e.ASYNCQUEUE_EVENTS_MAX_STREAMS,
    eventsMaxStreamsPerTeam: e.ASYNCQUEUE_EVENTS_MAX_STREAMS_PER_TEAM,
    version: VERSION,
  });
}
