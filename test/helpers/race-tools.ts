import { api } from './http.ts';
import type { WebhookSink } from './webhook-sink.ts';

/**
 * Only for tests that are literally about timing (firing a request at a chosen instant, or giving a
 * duplicate the time it would need to show up). Never as a substitute for waiting on a condition.
 */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** A uniform integer in [min, max]. */
export const between = (min: number, max: number) => min + Math.floor(Math.random() * (max - min + 1));

/**
 * Waits until the sink has received no delivery for `quietMs`, counted from its last delivery or
 * from `since` (when the last transition that could send one was seen), whichever is later: a
 * duplicate or unwanted webhook, which a second job would send right behind the first, has then had
 * its chance to arrive. Returns the number of deliveries.
 */
export async function waitForQuietSink(
  sink: WebhookSink,
  opts: { quietMs?: number; since?: number; timeoutMs?: number } = {},
): Promise<number> {
  const quietMs = opts.quietMs ?? 1_500;
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  for (;;) {
    const last = Math.max(sink.deliveries.at(-1)?.at ?? 0, opts.since ?? 0);
    const quietFor = Date.now() - last;
    if (quietFor >= quietMs) return sink.deliveries.length;
    if (Date.now() > deadline) throw new Error(`webhook sink never went quiet for ${quietMs} ms`);
    await sleep(Math.min(250, quietMs - quietFor));
  }
}

/** Counts values, for console summaries: {"200": 1, "404": 49}. */
export function tally<T extends string | number>(values: readonly T[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[String(v)] = (out[String(v)] ?? 0) + 1;
  return out;
}

/**
 * Polls GET /v1/tasks/:id (no long-poll) until the status is one of `statuses`. Unlike a long-poll
 * that starts after the task already reached a short-lived status (and so waits for the NEXT
 * change), this never misses `waiting` on a task with maxWaitTime 1. Needs a high team rate limit.
 */
export async function pollForStatus(
  baseUrl: string,
  key: string,
  id: string,
  statuses: string | string[],
  timeoutMs = 15_000,
): Promise<any> {
  const wanted = Array.isArray(statuses) ? statuses : [statuses];
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const res = await api(baseUrl, 'GET', `/v1/tasks/${id}`, { key });
    if (res.status !== 200) throw new Error(`GET task ${id} answered ${res.status}: ${res.text}`);
    last = res.body.task.status;
    if (wanted.includes(last)) return res.body.task;
    if (Date.now() > deadline) throw new Error(`task ${id} is ${last}, not ${wanted.join('/')} after ${timeoutMs} ms`);
    await sleep(20);
  }
}
