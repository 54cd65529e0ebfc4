import { linkedController } from '../abort.ts';
import type { Core } from '../core.ts';
import { APIError, AsyncQueueError, ConnectionError } from '../errors.ts';
import type { Task, TaskStatus } from '../generated/api-types.ts';
import { isRetryable, parseRetryAfter, sleep } from '../retry.ts';
import { parseSse } from '../sse-stream.ts';

/** Options of `tasks.subscribe`. */
export type SubscribeOptions = {
  /**
   * Only this task's changes.
   * @default undefined (every task of the team)
   */
  taskId?: string | undefined;
  /**
   * Only changes that leave a task in this status.
   * @default undefined (every status)
   */
  status?: TaskStatus | undefined;
  /**
   * Ends the subscription; the iteration rejects with the signal's reason.
   * @default undefined (runs until you `break`)
   */
  signal?: AbortSignal | undefined;
};

/** Why 1 s doubling to 30 s: reconnect quickly after a blip, without hammering a server that is down. */
const RECONNECT_MIN_MS = 1_000;
const RECONNECT_MAX_MS = 30_000;
/**
 * Why 50 s: the server writes a comment every 15 s; three missed heartbeats and a bit means the
 * connection is dead (a proxy or NAT dropped it silently), so we reconnect and resume.
 */
const SILENCE_LIMIT_MS = 50_000;
/**
 * Why 10,000: the versions (task id → updatedAt) already yielded; a resume re-sends the last minute's
 * changes (at least once delivery), and these are dropped instead of yielded twice.
 */
const MAX_REMEMBERED = 10_000;

/**
 * The team's task changes over GET /v1/events (Server-Sent Events). Reconnects with backoff after
 * a dropped connection and resumes with Last-Event-ID, so no change is missed; a version already
 * yielded is not yielded again. Authentication and validation errors (401, 400) are thrown; 429,
 * 5xx and network errors are retried.
 */
export async function* subscribeTasks(core: Core, options: SubscribeOptions): AsyncGenerator<Task, void, undefined> {
  const seen = new Map<string, string>();
  const state = { lastEventId: undefined as string | undefined, retryMs: RECONNECT_MIN_MS, failures: 0 };
  for (;;) {
    if (options.signal?.aborted) throw options.signal.reason;
    try {
      for await (const task of streamOnce(core, options, state)) {
        state.failures = 0;
        if (seen.get(task.id) === task.updatedAt) continue;
        seen.delete(task.id);
        seen.set(task.id, task.updatedAt);
        if (seen.size > MAX_REMEMBERED) seen.delete(seen.keys().next().value as string);
        yield task;
      }
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      if (!isRetryable(error)) throw error;
      state.failures += 1;
      const retryAfter = error instanceof AsyncQueueError ? error.retryAfter : undefined;
      await sleep(retryAfter !== undefined ? retryAfter * 1000 : backoff(state), options.signal);
      continue;
    }
    // The server ended the stream (a restart, a dropped slow reader): resume after its retry delay.
    await sleep(state.retryMs, options.signal);
  }
}

function backoff(state: { retryMs: number; failures: number }): number {
  const step = Math.min(RECONNECT_MAX_MS, Math.max(state.retryMs, RECONNECT_MIN_MS) * 2 ** (state.failures - 1));
  return Math.round(step * (0.75 + 0.25 * Math.random()));
}

/** One connection: yields its tasks; returns when the server ends it; throws what ended it otherwise. */
async function* streamOnce(
  core: Core,
  options: SubscribeOptions,
  state: { lastEventId: string | undefined; retryMs: number },
): AsyncGenerator<Task, void, undefined> {
  const { controller, dispose } = linkedController(options.signal);
  let silence: ReturnType<typeof setTimeout> | undefined;
  const heard = () => {
    clearTimeout(silence);
    silence = setTimeout(() => controller.abort(new ConnectionError('event stream went silent')), SILENCE_LIMIT_MS);
    // An abandoned iteration must not keep a Node process alive.
    (silence as { unref?: () => void }).unref?.();
  };
  try {
    heard();
    const res = await open(core, options, state.lastEventId, controller.signal);
    const hooks = { onBytes: heard, onRetry: (ms: number) => (state.retryMs = ms) };
    for await (const event of parseSse(res.body as ReadableStream<Uint8Array>, hooks)) {
      if (event.id !== undefined) state.lastEventId = event.id;
      if (event.event === 'task.updated') yield (JSON.parse(event.data) as { task: Task }).task;
    }
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason;
    if (error instanceof AsyncQueueError) throw error;
    const reason = controller.signal.aborted ? controller.signal.reason : error;
    throw reason instanceof ConnectionError ? reason : new ConnectionError(`event stream failed: ${reason}`);
  } finally {
    clearTimeout(silence);
    controller.abort();
    dispose();
  }
}

async function open(core: Core, options: SubscribeOptions, lastEventId: string | undefined, signal: AbortSignal) {
  const url = new URL(`${core.options.baseUrl}/v1/events`);
  if (options.taskId) url.searchParams.set('taskId', options.taskId);
  if (options.status) url.searchParams.set('status', options.status);
  const headers: Record<string, string> = { ...core.options.headers, accept: 'text/event-stream' };
  if (core.options.apiKey) headers.authorization = `Bearer ${core.options.apiKey}`;
  if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
  const res = await core.options.fetch(url, { headers, signal });
  if (res.ok && res.body) return res;
  const text = await res.text().catch(() => '');
  let body: { error?: unknown; code?: unknown; details?: unknown } | undefined;
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    body = { error: text.trim().slice(0, 200) || undefined };
  }
  throw APIError.generate(res.status, body, {
    retryAfter: parseRetryAfter(res.headers.get('retry-after')),
    requestId: res.headers.get('x-request-id') ?? undefined,
  });
}
