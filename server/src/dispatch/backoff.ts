// Delays between attempts: the task retry strategies (`retryBackoff`: exponential or linear) and
// the completion-webhook schedule. Pure; `random` is injectable so tests can fix the jitter.
//
// Jitter is one-sided (added, never subtracted): a delay is never shorter than its nominal step, so
// a target that needs "at least N s" gets it, while tasks that failed together (a provider outage)
// spread out instead of retrying in lockstep.

// Why: the first retry comes after 1 s; each later step is a multiple of it.
const BASE_DELAY_MS = 1_000;
// Why: up to +20 % spreads a burst of retries over a fifth of the step without changing its scale.
const TASK_JITTER_FRACTION = 0.2;
// Why: beyond 1 h a task retry is better replaced by a failure the user sees (matches Retry-After's cap).
const MAX_TASK_DELAY_MS = 3_600_000;

// Why: 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 3 h, 6 h (about 10 h in all) rides out a receiver's
// deploy or a night-long outage.
const WEBHOOK_SCHEDULE_MS: readonly number[] = [
  5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, 10_800_000, 21_600_000,
];
// Why: up to +10 % spreads webhooks that failed together (a receiver outage) without changing the schedule.
const WEBHOOK_JITTER_FRACTION = 0.1;

export type RetryStrategy = 'exponential' | 'linear';

/** Delay before retry `retryNumber` (1 = the first retry), jittered by up to +20 %, capped at 1 h. */
export function retryDelayMs(strategy: RetryStrategy, retryNumber: number, random: () => number = Math.random): number {
  const n = Math.max(1, Math.floor(retryNumber));
  const nominal = strategy === 'exponential' ? BASE_DELAY_MS * 2 ** (n - 1) : BASE_DELAY_MS * n;
  return Math.min(MAX_TASK_DELAY_MS, Math.round(nominal * (1 + TASK_JITTER_FRACTION * random())));
}

/**
 * Delay before the next webhook delivery after attempt `attempt` (1-based) failed; the later of the
 * schedule and `retryAfterMs` wins. null once the schedule is spent (after the 9th attempt).
 */
export function webhookRetryDelayMs(
  attempt: number,
  retryAfterMs: number | null,
  random: () => number = Math.random,
): number | null {
  const nominal = WEBHOOK_SCHEDULE_MS[Math.max(1, Math.floor(attempt)) - 1];
  if (nominal === undefined) return null;
  const scheduled = Math.round(nominal * (1 + WEBHOOK_JITTER_FRACTION * random()));
  return retryAfterMs === null ? scheduled : Math.max(scheduled, retryAfterMs);
}
