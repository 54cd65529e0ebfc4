import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { verifyDispatch } from '../sdk/src/verify-dispatch.ts';
import { useLifecycleFixture } from './helpers/lifecycle-fixture.ts';
import { waitFor } from './helpers/wait-for.ts';

// Dispatch behaviours beyond test/dispatch.test.ts: Retry-After, per-attempt timeout, maxRetries 0,
// redirects (allowed and refused), the response cap, duplicate callbacks, GET, delayUntil and the
// exponential backoff schedule. Priority is not tested here: see the note at the end of the file.

const MAX_RESPONSE_BYTES = 1_048_576;

type Attempt = {
  number: number;
  startedAt: string;
  durationMs: number;
  statusCode: number | null;
  error: string | null;
  willRetry: boolean;
};

const ctx = useLifecycleFixture({
  ASYNCQUEUE_MAX_RESPONSE_BYTES: String(MAX_RESPONSE_BYTES),
  // Why: waits below poll the API; the team limit is tested in rate-limit.test.ts.
  ASYNCQUEUE_RATE_LIMIT_PER_MINUTE: '100000',
});
const { create, getTask, until, requestsFor } = ctx;
const key = () => randomBytes(4).toString('hex');
const startGaps = (attempts: Attempt[]) =>
  attempts.slice(1).map((a, i) => Date.parse(a.startedAt) - Date.parse((attempts[i] as Attempt).startedAt));

describe('dispatch modes', () => {
  it('honours Retry-After on a 429: the retry starts ≥ 2 s after the first attempt, then completes', async () => {
    const { task } = await create({ targetUrl: ctx.provider.url(`/retry-after?s=2&key=${key()}`), maxRetries: 3 });
    const done = await until(task.id, 'completed');
    const attempts = done.attempts as Attempt[];
    expect(attempts.map((a) => [a.number, a.statusCode, a.error, a.willRetry])).toEqual([
      [1, 429, 'HTTP 429', true],
      [2, 200, null, false],
    ]);
    expect(done.retryCount).toBe(1);
    const [gap] = startGaps(attempts);
    console.log(`[dispatch-modes] Retry-After: 2 → attempt 2 started ${gap} ms after attempt 1`);
    expect(gap).toBeGreaterThanOrEqual(1_900);
    expect(gap).toBeLessThan(4_500);
  });

  it('times out an attempt that hangs past `timeout`, retries it, then fails after 2 attempts', async () => {
    const { task } = await create({ targetUrl: ctx.provider.url('/hang'), timeout: 1, maxRetries: 1 });
    const done = await until(task.id, 'failed');
    const attempts = done.attempts as Attempt[];
    expect(attempts.map((a) => [a.number, a.statusCode, a.willRetry])).toEqual([
      [1, null, true],
      [2, null, false],
    ]);
    for (const a of attempts) {
      expect(a.error).toMatch(/timed out/i);
      expect(a.durationMs).toBeGreaterThanOrEqual(990);
      expect(a.durationMs).toBeLessThan(3_000);
    }
    expect(done.error).toMatch(/^Failed after 2 attempts: .*timed out/i);
    expect(done.result).toBeNull();
    expect(requestsFor(task.id)).toHaveLength(2);
    expect(await ctx.db.queued('dispatch', task.id)).toEqual([]);
  });

  it('with maxRetries 0 fails a 503 after one attempt', async () => {
    const { task } = await create({ targetUrl: ctx.provider.url('/status/503'), maxRetries: 0 });
    const done = await until(task.id, 'failed');
    expect(done.attempts).toHaveLength(1);
    expect(done.attempts[0]).toMatchObject({ number: 1, statusCode: 503, error: 'HTTP 503', willRetry: false });
    expect(done.error).toBe('Failed after 1 attempt: HTTP 503');
    expect(done.retryCount).toBe(0);
    expect(done.result.statusCode).toBe(503);
    expect(requestsFor(task.id)).toHaveLength(1);
    expect(await ctx.db.queued('dispatch', task.id)).toEqual([]);
  });

  it('follows a redirect to an allowed loopback URL and completes with the final 200', async () => {
    const target = ctx.provider.url(`/redirect?to=${encodeURIComponent(ctx.provider.url('/ok?via=redirect'))}`);
    const { task } = await create({ targetUrl: target, body: '{"x":1}' });
    const done = await until(task.id, 'completed');
    expect(done.result.statusCode).toBe(200);
    expect(JSON.parse(done.result.body)).toEqual({ ok: true, id: 'gen_1' });
    expect(done.attempts).toHaveLength(1);
    expect(done.attempts[0]).toMatchObject({ statusCode: 200, error: null, willRetry: false });
    const hops = requestsFor(task.id);
    expect(hops.map((r) => r.path)).toEqual([expect.stringMatching(/^\/redirect\?/), '/ok?via=redirect']);
    // A 302 on a POST continues as a GET without the body (as browsers and fetch do).
    expect(hops.map((r) => r.method)).toEqual(['POST', 'GET']);
    expect(hops[1]?.body).toBe('');
  });

  for (const to of ['http://10.0.0.1/', 'http://169.254.169.254/latest/meta-data/']) {
    it(`refuses a redirect to ${to} at once: failed after 1 attempt, not retried, error naming the network guard`, async () => {
      const { task } = await create({
        targetUrl: ctx.provider.url(`/redirect?to=${encodeURIComponent(to)}`),
        maxRetries: 3,
      });
      const done = await until(task.id, 'failed');
      expect(done.attempts).toHaveLength(1);
      expect(done.attempts[0]).toMatchObject({ number: 1, statusCode: null, willRetry: false });
      expect(done.attempts[0].error).toMatch(/network guard/i);
      expect(done.error).toMatch(/network guard/i);
      expect(done.error).toContain(new URL(to).hostname);
      expect(done.error).not.toMatch(/^Failed after/);
      expect(done.retryCount).toBe(0);
      expect(requestsFor(task.id)).toHaveLength(1);
      expect(await ctx.db.queued('dispatch', task.id)).toEqual([]);
    });
  }

  it('cuts a response larger than ASYNCQUEUE_MAX_RESPONSE_BYTES and flags it', async () => {
    const { task } = await create({ targetUrl: ctx.provider.url('/big?bytes=3145728') });
    const done = await until(task.id, 'completed');
    expect(done.result.statusCode).toBe(200);
    expect(done.result.bodyTruncated).toBe(true);
    expect(done.result.body.length).toBe(MAX_RESPONSE_BYTES);
    expect(done.result.body).toMatch(/^x+$/);
    expect(done.attempts).toHaveLength(1);
  });

  it('a provider calling back twice: exactly one callback wins (200), the other gets 404, one completion', async () => {
    const before = ctx.provider.callbackResults.length;
    const { task, callbackUrl } = await create({
      targetUrl: ctx.provider.url('/callback-twice'),
      headers: { 'X-Callback': '{asyncqueue_callback_url}' },
      onCompleteUrl: ctx.sink.url,
    });
    expect(callbackUrl).toMatch(/\/v1\/callbacks\/[0-9a-f]{64}$/);
    const done = await until(task.id, 'completed');
    expect(done.result.body).toBe('{"status":"done","output":"from-callback"}');
    expect(requestsFor(task.id)[0]?.headers['x-callback']).toBe(callbackUrl);
    // The dispatch answered after both callbacks: its attempt is recorded, the status left alone.
    const recorded = await waitFor('the dispatch attempt to be recorded', async () => {
      const row = await ctx.db.taskRow(task.id);
      return row.attempts.length === 1 ? row : null;
    });
    expect(recorded.status).toBe('completed');
    expect(ctx.provider.callbackResults.slice(before).sort()).toEqual([200, 404]);
    // Completed once: one webhook job, one delivery.
    expect(await ctx.db.jobs('webhook', task.id)).toHaveLength(1);
    const delivery = await waitFor('the webhook', () => ctx.sink.forTask(task.id)[0]);
    expect(delivery.event).toBe('task.completed');
    const final = await getTask(task.id);
    expect(final.completedAt).toBe(done.completedAt);
    expect(final.attempts[0]).toMatchObject({ number: 1, statusCode: 200 });
    expect(ctx.sink.forTask(task.id)).toHaveLength(1);
  });

  it('GET sends no body (the task keeps the body it was given), signed over the empty body', async () => {
    const { task } = await create({ targetUrl: ctx.provider.url('/ok?method=get'), method: 'GET', body: 'not-sent' });
    const done = await until(task.id, 'completed');
    expect(done.method).toBe('GET');
    expect(done.body).toBe('not-sent');
    const [seen] = requestsFor(task.id);
    expect(seen?.method).toBe('GET');
    expect(seen?.body).toBe('');
    expect(seen?.headers['content-length']).toBeUndefined();
    expect(seen?.headers['transfer-encoding']).toBeUndefined();
    const request = { method: 'GET', url: ctx.provider.url('/ok?method=get') };
    expect(() => verifyDispatch('', seen?.headers ?? {}, ctx.team.webhookSecret, request)).not.toThrow();
  });

  it('delayUntil 2 s ahead: delayed, not called before that instant, then completed', async () => {
    const delayUntil = new Date(Date.now() + 2_000).toISOString();
    const created = await create({ targetUrl: ctx.provider.url('/ok?delayed=1'), delayUntil });
    expect(created.task.status).toBe('delayed');
    expect(created.task.delayUntil).toBe(delayUntil);
    const early = await getTask(created.task.id);
    expect(early.status).toBe('delayed');
    const done = await until(created.task.id, 'completed');
    const [first] = requestsFor(created.task.id);
    expect(first).toBeDefined();
    expect(first!.at).toBeGreaterThanOrEqual(Date.parse(delayUntil));
    expect(Date.parse(done.attempts[0].startedAt)).toBeGreaterThanOrEqual(Date.parse(delayUntil));
    // Workers poll every 1 s for due jobs: the call comes well within 2.5 s of the instant.
    expect(first!.at - Date.parse(delayUntil)).toBeLessThan(2_500);
  });

  it('exponential backoff: gaps of about 1 s, 2 s, 4 s (+≤ 20 % jitter + polling slack), increasing', async () => {
    const { task } = await create({
      targetUrl: ctx.provider.url(`/fail?times=3&key=${key()}`),
      maxRetries: 3,
      retryBackoff: 'exponential',
    });
    const done = await until(task.id, 'completed', { timeoutMs: 30_000 });
    const attempts = done.attempts as Attempt[];
    expect(attempts.map((a) => [a.number, a.statusCode, a.willRetry])).toEqual([
      [1, 500, true],
      [2, 500, true],
      [3, 500, true],
      [4, 200, false],
    ]);
    expect(done.retryCount).toBe(3);
    const gaps = startGaps(attempts);
    console.log(`[dispatch-modes] exponential backoff gaps (ms): ${gaps.join(', ')} (nominal 1000, 2000, 4000)`);
    [1_000, 2_000, 4_000].forEach((nominal, i) => {
      const gap = gaps[i] as number;
      // The retry is scheduled after the attempt ended, and jitter is only ever added: never early.
      expect(gap).toBeGreaterThanOrEqual(nominal);
      // +20 % jitter, + up to 1.2 s until a polling worker picks the due job up, + 300 ms for the attempt.
      expect(gap).toBeLessThanOrEqual(nominal * 1.2 + 1_500);
    });
    expect(gaps[0]).toBeLessThan(gaps[1] as number);
    expect(gaps[1]).toBeLessThan(gaps[2] as number);
  });
});

// Priority (1–10, higher first) is not tested end to end: the dispatch queue runs 8 worker loops
// that each fetch a batch of 8 jobs and run the batch concurrently, so two due jobs of different
// priority are fetched together and reach the target in no fixed order. Any assertion on the order
// of arrival would be a coin toss; priority ordering of the fetch itself is pg-boss's.
