import { Core, type ResolvedOptions } from './core.ts';
import { FlowKeys } from './resources/flow-keys.ts';
import { Providers } from './resources/providers.ts';
import { Signals } from './resources/signals.ts';
import { Tasks } from './resources/tasks.ts';
import { Tokens } from './resources/tokens.ts';
import { webhooks } from './webhooks.ts';

/** Options of `new AsyncQueue(options)`. */
export type AsyncQueueOptions = {
  /**
   * API key (`async_…`), sent as `Authorization: Bearer <key>`. Signals and `providers.list`
   * work without one.
   * @default process.env.ASYNCQUEUE_API_KEY
   */
  apiKey?: string | undefined;
  /**
   * Base URL of the AsyncQueue server, without `/v1`.
   * @default process.env.ASYNCQUEUE_BASE_URL, else "http://localhost:3000"
   */
  baseUrl?: string | undefined;
  /**
   * Retries of a call that is safe to repeat (reads, and creates, which carry an idempotency
   * key) after a connection error, a 429 or a 5xx. Waits follow `Retry-After` when the server
   * sends it, else exponential backoff from 0.5 s capped at 8 s, with jitter.
   * @default 2
   */
  maxRetries?: number | undefined;
  /**
   * Timeout of each HTTP attempt in milliseconds (long-polls get their wait time on top).
   * @default 60000
   */
  timeoutMs?: number | undefined;
  /**
   * The fetch implementation (for proxies, custom agents, tests).
   * @default globalThis.fetch
   */
  fetch?: typeof fetch | undefined;
  /**
   * Extra headers sent with every request.
   * @default {}
   */
  headers?: Record<string, string> | undefined;
};

const DEFAULT_BASE_URL = 'http://localhost:3000';
const DEFAULT_MAX_RETRIES = 2;
/** Why 60 s: above any normal answer time; long-polls add their own wait on top. */
const DEFAULT_TIMEOUT_MS = 60_000;

/**
 * Client of an AsyncQueue server.
 *
 * @example
 * const aq = new AsyncQueue(); // ASYNCQUEUE_API_KEY, ASYNCQUEUE_BASE_URL
 * const { task } = await aq.tasks.create({ targetUrl: 'https://api.example.com/generate', body: '{}' });
 * const done = await aq.tasks.wait(task.id);
 */
export class AsyncQueue {
  /** Verification of completion webhooks: `AsyncQueue.webhooks.verify(rawBody, headers, secret)`. */
  static readonly webhooks = webhooks;

  /** Create, read, list, cancel and wait for tasks. */
  readonly tasks: Tasks;
  /** Complete or fail tasks that wait for a signal. */
  readonly signals: Signals;
  /** Polling presets of known AI providers. */
  readonly providers: Providers;
  /** The team's secret vault. */
  readonly tokens: Tokens;
  /** Per-key concurrency and rate limits of outbound calls (flow control). */
  readonly flowKeys: FlowKeys;
  /** The server this client talks to. */
  readonly baseUrl: string;

  constructor(options: AsyncQueueOptions = {}) {
    const resolved = resolveOptions(options);
    const core = new Core(resolved);
    this.baseUrl = resolved.baseUrl;
    this.tasks = new Tasks(core);
    this.signals = new Signals(core);
    this.providers = new Providers(core);
    this.tokens = new Tokens(core);
    this.flowKeys = new FlowKeys(core);
  }
}

function resolveOptions(options: AsyncQueueOptions): ResolvedOptions {
  const baseUrl = (options.baseUrl ?? env('ASYNCQUEUE_BASE_URL') ?? DEFAULT_BASE_URL).replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]/.test(baseUrl)) throw new TypeError(`baseUrl must be an http(s) URL, got "${baseUrl}"`);
  const maxRetries = options.maxRetries ?? DEFAULT_MAX_RETRIES;
  if (!Number.isInteger(maxRetries) || maxRetries < 0) throw new TypeError('maxRetries must be a whole number ≥ 0');
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!(timeoutMs > 0)) throw new TypeError('timeoutMs must be greater than 0');
  const fetchImpl = options.fetch ?? globalThis.fetch;
  if (typeof fetchImpl !== 'function') throw new TypeError('No fetch available: pass options.fetch');
  return {
    apiKey: options.apiKey ?? env('ASYNCQUEUE_API_KEY'),
    baseUrl,
    maxRetries,
    timeoutMs,
    fetch: fetchImpl,
    headers: { ...(options.headers ?? {}) },
  };
}

/** An environment variable where there is one (Node, Bun, Deno with permissions); not in browsers. */
function env(name: string): string | undefined {
  const proc = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  const value = proc?.env?.[name];
  return value === undefined || value === '' ? undefined : value;
}
