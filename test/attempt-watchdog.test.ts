import { afterEach, describe, expect, it } from 'vitest';
import { WATCHDOG_PERIOD_MS } from '../server/src/jobs/attempt-watchdog.ts';
import { STUCK_MARGIN_SECONDS } from '../server/src/tasks/stuck-attempts.ts';
import { type HoldFirstTarget, startHoldFirstTarget } from './helpers/hold-first-target.ts';
import { api } from './helpers/http.ts';
import { useLifecycleFixture } from './helpers/lifecycle-fixture.ts';
import { waitFor } from './helpers/wait-for.ts';

// A task never stays `processing` past its attempt timeout plus a margin: the watchdog moves it on
// by its own policy (retry or failed), fenced on the lease it found, so the late worker's UPDATE
// matches nothing; a cancel of such a stuck task ends it at once. The stuck attempt is real (a
// target that never answers, the handler blocked in the call); only the clock is moved: the task's
// `updated_at` (set when the attempt was claimed) is backdated past timeout + margin.

const ctx = useLifecycleFixture({
  // Why: waits below poll the API; the limits are tested in rate-limit.test.ts.
  ASYNCQUEUE_RATE_LIMIT_PER_MINUTE: '100000',
  ASYNCQUEUE_CALLBACK_RATE_LIMIT_PER_MINUTE: '100000',
});

// Why 300 s: far beyond the test, so the held call is still open when the watchdog acts.
const TIMEOUT_SECONDS = 300;
// Why: a sweep runs every WATCHDOG_PERIOD_MS; allow two periods plus the retry's own pickup.
const WATCHDOG_WAIT_MS = 2 * WATCHDOG_PERIOD_MS + 5_000;

let target: HoldFirstTarget | null = null;
afterEach(async () => {
  await target?.stop();
  target = null;
});

/** A task whose first call the target holds open: the attempt is in flight, its handler blocked. */
async function stuckTask(body: Record<string, unknown>) {
  target = await startHoldFirstTarget();
  const { task } = await ctx.create({ targetUrl: target.url, timeout: TIMEOUT_SECONDS, ...body });
  await waitFor('the held first call', () => target?.requests.length === 1);
  expect((await ctx.db.taskRow(task.id)).status).toBe('processing');
  return task.id as string;
}

/** Moves the attempt's start back past its timeout plus the margin (and one second more). */
async function backdate(id: string) {
  const seconds = TIMEOUT_SECONDS + STUCK_MARGIN_SECONDS + 1;
  const res = await ctx.db.client.query(
    `update tasks set updated_at = now() - make_interval(secs => $2) where id = $1 and status = 'processing'`,
    [id, seconds],
  );
  expect(res.rowCount).toBe(1);
}

/** Lets the held call end (its connection is closed), then waits for its handler to finish. */
async function releaseHeldCall(id: string) {
  await target?.stop();
  target = null;
  await waitFor('every dispatch job of the task to be done', async () => {
    const jobs = await ctx.db.jobs('dispatch', id);
    return jobs.every((j) => j.state === 'completed' || j.state === 'failed');
  });
}

const terminal = (id: string) =>
  waitFor(
    `task ${id} to end`,
    async () => {
      const task = await ctx.getTask(id);
      return ['completed', 'failed', 'cancelled'].includes(task.status) ? task : null;
    },
    WATCHDOG_WAIT_MS,
  );

describe('attempt watchdog', () => {
  it('retries a stuck attempt (counted against maxRetries); the late worker then changes nothing', async () => {
    const id = await stuckTask({ maxRetries: 1, retryBackoff: 'linear' });
    await backdate(id);
    const done = await terminal(id);
    expect(done.status).toBe('completed');
    expect(done.retryCount).toBe(1);
    expect(done.attempts).toHaveLength(2);
    expect(done.attempts[0]).toMatchObject({ number: 1, statusCode: null, willRetry: true });
    expect(done.attempts[0].error).toMatch(/^Interrupted: no outcome within the attempt timeout/);
    expect(done.attempts[1]).toMatchObject({ number: 2, statusCode: 200, willRetry: false });
    expect(target?.requests.map((r) => r.attempt)).toEqual(['1', '2']);

    await releaseHeldCall(id);
    const after = await ctx.getTask(id);
    expect(after).toMatchObject({ status: 'completed', retryCount: 1, completedAt: done.completedAt });
    expect(after.attempts).toEqual(done.attempts);
  });

  it('fails a stuck attempt when no retry is left (maxRetries 0: one call), naming the cause', async () => {
    const id = await stuckTask({ maxRetries: 0, onCompleteUrl: ctx.sink.url });
    await backdate(id);
    const done = await terminal(id);
    expect(done.status).toBe('failed');
    expect(done.error).toMatch(/^Failed after 1 attempt: Interrupted: no outcome within the attempt timeout/);
    expect(done.attempts).toEqual([expect.objectContaining({ number: 1, statusCode: null, willRetry: false })]);
    await waitFor('the failed webhook', () => ctx.sink.forTask(id).length === 1);

    await releaseHeldCall(id);
    const after = await ctx.getTask(id);
    expect(after).toMatchObject({ status: 'failed', error: done.error });
    expect(after.attempts).toEqual(done.attempts);
    expect(await ctx.db.jobs('dispatch', id)).toHaveLength(1);
  });

  it('ends a stuck task whose cancel was requested as cancelled', async () => {
    const id = await stuckTask({ maxRetries: 3 });
    const flagged = await api(ctx.t.url, 'POST', `/v1/tasks/${id}/cancel`, { key: ctx.team.apiKey });
    expect(flagged.body.task).toMatchObject({ status: 'processing', cancelRequested: true });
    await backdate(id);
    const done = await terminal(id);
    expect(done).toMatchObject({ status: 'cancelled', cancelRequested: true, retryCount: 0 });
    expect(done.attempts).toEqual([expect.objectContaining({ number: 1, willRetry: false })]);
    await releaseHeldCall(id);
    expect((await ctx.getTask(id)).attempts).toHaveLength(1);
  });
});

describe('cancel of a stuck task', () => {
  it('ends it cancelled at once, the stuck attempt recorded; the late worker then changes nothing', async () => {
    const id = await stuckTask({ maxRetries: 3 });
    await backdate(id);
    const res = await api(ctx.t.url, 'POST', `/v1/tasks/${id}/cancel`, { key: ctx.team.apiKey });
    expect(res.status, res.text).toBe(200);
    expect(res.body.task).toMatchObject({ id, status: 'cancelled', retryCount: 0 });
    expect(res.body.task.attempts).toEqual([
      expect.objectContaining({
        number: 1,
        statusCode: null,
        willRetry: false,
        error: expect.stringMatching(/^Interrupted/),
      }),
    ]);
    await releaseHeldCall(id);
    const after = await ctx.getTask(id);
    expect(after.status).toBe('cancelled');
    expect(after.attempts).toEqual(res.body.task.attempts);
    expect(await ctx.db.queued('dispatch', id)).toEqual([]);
  });

  it('of an attempt still within its timeout only flags it (the attempt is in flight)', async () => {
    const id = await stuckTask({ maxRetries: 3 });
    const res = await api(ctx.t.url, 'POST', `/v1/tasks/${id}/cancel`, { key: ctx.team.apiKey });
    expect(res.body.task).toMatchObject({ status: 'processing', cancelRequested: true, attempts: [] });
    await releaseHeldCall(id);
    const done = await terminal(id);
    expect(done.status).toBe('cancelled');
  });
});
