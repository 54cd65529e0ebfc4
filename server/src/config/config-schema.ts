import { z } from 'zod';

const MiB = 1024 * 1024;

const positiveInt = (name: string) =>
  z.coerce
    .number({ error: `${name} must be a whole number` })
    .int(`${name} must be a whole number`)
    .positive(`${name} must be greater than 0`);

/** JSON object of preset id → origin, e.g. {"replicate":"http://127.0.0.1:9000"}. */
const providerBaseUrls = z
  .string()
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON object such as {"replicate":"http://127.0.0.1:9000"}' });
      return z.NEVER;
    }
  })
  .pipe(z.record(z.string(), z.url({ protocol: /^https?$/, error: 'each value must be an http(s) URL' })));

/**
 * Every environment variable the server reads, with its default. This is the only schema of
 * process.env; `loadConfig` turns it into the frozen `Config` the rest of the code receives.
 */
/**
 * Why 16: 48 random letters and digits hold about 34 distinct characters (fewer than 16 happens with
 * a chance far below 1e-12); a key typed by hand (async_aaaa…, a repeated pattern) holds a few.
 */
const MIN_DISTINCT_KEY_CHARACTERS = 16;

export const envSchema = z.object({
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or postgresql://')
    .optional(),
  PORT: z.coerce
    .number({ error: 'PORT must be a number' })
    .int()
    .min(0, 'PORT must be 0–65535')
    .max(65535, 'PORT must be 0–65535')
    .default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  PUBLIC_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  ASYNCQUEUE_ROLE: z.enum(['all', 'api', 'worker'], { error: 'must be all, api or worker' }).default('all'),
  ASYNCQUEUE_DATA_DIR: z.string().min(1).default('./.asyncqueue'),
  ASYNCQUEUE_ALLOWED_CIDRS: z.string().optional(),
  ASYNCQUEUE_ENCRYPTION_KEY: z
    .string()
    .refine((v) => Buffer.from(v, 'base64').length === 32, 'must be the base64 of 32 bytes (openssl rand -base64 32)')
    .optional(),
  ASYNCQUEUE_BOOTSTRAP_API_KEY: z
    .string()
    .superRefine((key, ctx) => {
      if (!/^async_[0-9A-Za-z]{48}$/.test(key)) {
        ctx.addIssue({ code: 'custom', message: 'must be async_ followed by 48 letters or digits' });
      } else if (new Set(key.slice('async_'.length)).size < MIN_DISTINCT_KEY_CHARACTERS) {
        ctx.addIssue({
          code: 'custom',
          message:
            'must be random, not a placeholder or a repeated pattern: leave it unset and the first start generates and prints one',
        });
      }
    })
    .optional(),
  ASYNCQUEUE_PROVIDER_BASE_URLS: providerBaseUrls.optional(),
  TRUST_PROXY: z.coerce
    .number({ error: 'TRUST_PROXY must be the number of proxy hops to trust' })
    .int()
    .min(0)
    .max(10)
    .default(0),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  ASYNCQUEUE_RATE_LIMIT_PER_MINUTE: positiveInt('ASYNCQUEUE_RATE_LIMIT_PER_MINUTE').default(600),
  ASYNCQUEUE_CALLBACK_RATE_LIMIT_PER_MINUTE: positiveInt('ASYNCQUEUE_CALLBACK_RATE_LIMIT_PER_MINUTE').default(30),
  ASYNCQUEUE_MAX_BODY_BYTES: positiveInt('ASYNCQUEUE_MAX_BODY_BYTES').default(MiB),
  ASYNCQUEUE_MAX_CALLBACK_BYTES: positiveInt('ASYNCQUEUE_MAX_CALLBACK_BYTES').default(5 * MiB),
  ASYNCQUEUE_MAX_RESPONSE_BYTES: positiveInt('ASYNCQUEUE_MAX_RESPONSE_BYTES').default(5 * MiB),
  /** Bytes response bodies in flight may hold per process; default: half the V8 heap limit (config.ts). */
  ASYNCQUEUE_RESPONSE_MEMORY_BYTES: positiveInt('ASYNCQUEUE_RESPONSE_MEMORY_BYTES').optional(),
  ASYNCQUEUE_MAX_WAIT_TIME: positiveInt('ASYNCQUEUE_MAX_WAIT_TIME').default(86_400),
  ASYNCQUEUE_RETENTION_DAYS: positiveInt('ASYNCQUEUE_RETENTION_DAYS').default(30),
  ASYNCQUEUE_DB_POOL_SIZE: positiveInt('ASYNCQUEUE_DB_POOL_SIZE').default(10),
  ASYNCQUEUE_JOB_TAKEOVER_SECONDS: positiveInt('ASYNCQUEUE_JOB_TAKEOVER_SECONDS').default(60),
  // HTTP edge limits. Why 60 failed authentications a minute per client IP: a client with a wrong
  // key learns it at once; more is a stranger guessing keys.
  ASYNCQUEUE_AUTH_FAILURE_LIMIT_PER_MINUTE: positiveInt('ASYNCQUEUE_AUTH_FAILURE_LIMIT_PER_MINUTE').default(60),
  // Why 4096: far above a deployment's concurrent clients (parked long-polls included), far below
  // the memory and file descriptors the process can spend on sockets.
  ASYNCQUEUE_MAX_CONNECTIONS: positiveInt('ASYNCQUEUE_MAX_CONNECTIONS').default(4096),
  // Why 10 s: a client sends its headers in one packet; 10 s covers a slow mobile link.
  ASYNCQUEUE_HTTP_HEADERS_TIMEOUT_SECONDS: positiveInt('ASYNCQUEUE_HTTP_HEADERS_TIMEOUT_SECONDS').default(10),
  // Why 60 s: receiving a whole request, the largest callback (5 MiB) included, over a slow link;
  // the response is not bounded by it (a long-poll parks for up to 25 s after its request arrived).
  ASYNCQUEUE_HTTP_REQUEST_TIMEOUT_SECONDS: positiveInt('ASYNCQUEUE_HTTP_REQUEST_TIMEOUT_SECONDS').default(60),
  // Live events (GET /v1/events). Why 15 s: proxies and load balancers commonly close a response
  // idle for 30–60 s; a comment line every 15 s keeps a quiet stream open through them.
  ASYNCQUEUE_EVENTS_HEARTBEAT_SECONDS: positiveInt('ASYNCQUEUE_EVENTS_HEARTBEAT_SECONDS').default(15),
  // Why 2,000 streams per process: half the connection cap, so event streams never take every socket
  // from the REST API; each costs a socket and a few KiB, and no database connection.
  ASYNCQUEUE_EVENTS_MAX_STREAMS: positiveInt('ASYNCQUEUE_EVENTS_MAX_STREAMS').default(2000),
  // Why 500 per team: a team's dashboards and workers fit well within it, and one team cannot take
  // all of a process's streams from the others.
  ASYNCQUEUE_EVENTS_MAX_STREAMS_PER_TEAM: positiveInt('ASYNCQUEUE_EVENTS_MAX_STREAMS_PER_TEAM').default(500),
});

export type Env = z.output<typeof envSchema>;
