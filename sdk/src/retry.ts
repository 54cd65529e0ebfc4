import { AsyncQueueError, ConnectionError } from './errors.ts';

/** Why 500 ms doubling: a restarting server or a brief overload clears within a few seconds. */
const BASE_DELAY_MS = 500;
/** Why 8 s: later retries should not leave a caller hanging much longer than the server would. */
const MAX_DELAY_MS = 8_000;
/**
 * Why 60 s: the server's rate-limit window. A `Retry-After` beyond it is not a blip worth sleeping
 * through inside one call: the error is thrown with `retryAfter` so the caller decides.
 */
const MAX_RETRY_AFTER_MS = 60_000;

/** Connection errors (timeouts included), 429 and 5xx may succeed on a later try. */
export function isRetryable(error: unknown): boolean {
  if (error instanceof ConnectionError) return true;
  if (!(error instanceof AsyncQueueError) || error.status === undefined) return false;
  return error.status === 429 || error.status >= 500;
}

/**
 * How long to wait before retry number `retry` (1-based), or null for "do not retry": the server's
 * `Retry-After` when it sent one (up to 60 s), else exponential backoff capped at 8 s with jitter
 * (75–100 % of the step), so many clients do not retry in lockstep.
 */
export function retryDelayMs(retry: number, error: unknown, random: () => number = Math.random): number | null {
  const retryAfter = error instanceof AsyncQueueError ? error.retryAfter : undefined;
  if (retryAfter !== undefined) {
    const ms = retryAfter * 1000;
    return ms <= MAX_RETRY_AFTER_MS ? ms : null;
  }
  const step = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** (retry - 1));
  return Math.round(step * (0.75 + 0.25 * random()));
}

/** `Retry-After` as seconds: a number of seconds or an HTTP date; undefined when absent or invalid. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

export type RetryPolicy = {
  /** Retries after the first try; 0 disables retrying. */
  maxRetries: number;
  /** False for calls that must not be repeated (cancel, signals, create without a key). */
  retryable: boolean;
  signal?: AbortSignal | undefined;
};

/** Runs `attempt` and retries it per the policy. The last error is thrown as is. */
export async function withRetries<T>(policy: RetryPolicy, attempt: () => Promise<T>): Promise<T> {
  for (let retry = 1; ; retry++) {
    try {
      return await attempt();
    } catch (error) {
      if (!policy.retryable || retry > policy.maxRetries || !isRetryable(error)) throw error;
      if (policy.signal?.aborted) throw policy.signal.reason;
      const delay = retryDelayMs(retry, error);
      if (delay === null) throw error;
      await sleep(delay, policy.signal);
    }
  }
}

/** setTimeout as a promise that rejects with the signal's reason when aborted. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
