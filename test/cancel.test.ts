import { describe, expect, it } from 'vitest';
import { api } from './helpers/http.ts';
import { useLifecycleFixture } from './helpers/lifecycle-fixture.ts';
import { waitForCurrentStatus } from './helpers/status-waits.ts';
import { waitForStatus } from './helpers/task-waits.ts';
import { expectErrorBody } from './helpers/tasks.ts';
import { waitFor } from './helpers/wait-for.ts';

// POST /v1/tasks/:id/cancel in every status: at once from delayed and waiting (and
// between attempts), flagged while an attempt is in flight, 409 once terminal. A cancel never
// sends a completion webhook.

const ctx = useLifecycleFixture({
  // Why: waits below poll the API; the limits are tested in rate-limit.test.ts.
  ASYNCQUEUE_RATE_LIMIT_PER_MINUTE: '100000',
  ASYNCQUEUE_CALLBACK_RATE_LIMIT_PER_MINUTE: '100000',
});
const { create, getTask, requestsFor } = ctx;
const cancel = (id: string, key = ctx.team.apiKey) => api(ctx.t.url, 'POST', `/v1/tasks/${id}/cancel`, { key });
const notWaiting = (status: string) => `Task is not in waiting/polling state (current: ${status})`;

describe('cancel', () => {
  it('cancels a delayed task at once; its dispatch job, made due, then calls nothing', async () => {
    const { task } = await create({
      targetUrl: ctx.provider.url('/ok?cancel=delayed'),
      delayUntil: new Date(Date.now() + 3_600_000).toISOString(),
      onCompleteUrl: ctx.sink.url,
    });
    expect(task.status).toBe('delayed');
    const res = await cancel(task.id);
    expect(res.status, res.text).toBe(200);
    expect(res.body.task).toMatchObject({ id: task.id, status: 'cancelled', cancelRequested: false, attempts: [] });
    expect(res.body.task.completedAt).toEqual(expect.any(String));
    expect((await getTask(task.id)).status).toBe('cancelled');

    // Backdate the delayed dispatch job: it runs, finds a cancelled task, and calls nothing.
    expect(await ctx.db.makeDue('dispatch', task.id)).toBe(1);
    await waitFor('the dispatch job to run', async () => {
      const jobs = await ctx.db.jobs('dispatch', task.id);
      return jobs.length === 1 && jobs[0]!.state === 'completed';
    });
    expect(requestsFor(task.id)).toEqual([]);
    const after = await getTask(task.id);
    expect(after).toMatchObject({ status: 'cancelled', attempts: [], startedAt: null });
    expect(await ctx.db.jobs('webhook', task.id)).toEqual([]);
  });

  it('cancels a waiting task; its callback and signal then get 409', async () => {
    const created = await create({
      targetUrl: ctx.provider.url('/ok?cancel=waiting'),
      headers: { 'X-Callback': '{asyncqueue_callback_url}' },
      waitForSignal: true,
      onCompleteUrl: ctx.sink.url,
    });
    await waitForCurrentStatus(ctx.t.url, ctx.team.apiKey, created.task.id, 'waiting');
    const res = await cancel(created.task.id);
    expect(res.status, res.text).toBe(200);
    expect(res.body.task).toMatchObject({ status: 'cancelled', cancelRequested: false });

    const callback = await api(created.callbackUrl!, 'POST', '', { body: { status: 'done' } });
    expect(callback.status, callback.text).toBe(409);
    expect(callback.body).toEqual({ error: notWaiting('cancelled'), code: 'conflict' });
    const signal = await api(ctx.t.url, 'POST', `/v1/signals/${created.signalToken}`, {
      body: { status: 'completed' },
    });
    expect(signal.status, signal.text).toBe(409);
    expect(signal.body).toEqual({ error: notWaiting('cancelled'), code: 'conflict' });

    const after = await getTask(created.task.id);
    expect(after).toMatchObject({ status: 'cancelled', result: null, error: null });
    expect(await ctx.db.jobs('webhook', created.task.id)).toEqual([]);
  });

  it('flags a processing task (attempt in flight) and cancels it when the attempt ends, without a webhook', async () => {
    const { task } = await create({ targetUrl: ctx.provider.url('/hang'), timeout: 2, onCompleteUrl: ctx.sink.url });
    await waitFor('the attempt to be in flight', () => requestsFor(task.id).length === 1);
    const res = await cancel(task.id);
    expect(res.status, res.text).toBe(200);
    expect(res.body.task).toMatchObject({ id: task.id, status: 'processing', cancelRequested: true, attempts: [] });

    const done = await waitForStatus(ctx.t.url, ctx.team.apiKey, task.id, 'cancelled', 15_000);
    expect(done.cancelRequested).toBe(true);
    expect(done.attempts).toHaveLength(1);
    expect(done.attempts[0]).toMatchObject({ number: 1, statusCode: null, willRetry: false });
    expect(done.attempts[0].error).toMatch(/timed out/i);
    expect(done.error).toBeNull();
    expect(done.completedAt).toEqual(expect.any(String));
    // Ended for good: no retry queued (maxRetries defaults to 3), no webhook job, one call made.
    expect(await ctx.db.queued('dispatch', task.id)).toEqual([]);
    expect(await ctx.db.jobs('webhook', task.id)).toEqual([]);
    expect(requestsFor(task.id)).toHaveLength(1);
    expect(ctx.sink.forTask(task.id)).toEqual([]);
  });

  it('cancels at once during a retry backoff; the queued retry then makes no attempt', async () => {
    const { task } = await create({
      targetUrl: ctx.provider.url('/status/503'),
      maxRetries: 3,
      retryBackoff: 'linear',
    });
    const between = await waitFor('the first attempt to be recorded', async () => {
      const row = await ctx.db.taskRow(task.id);
      return row.attempts.length === 1 ? row : null;
    });
    expect(between.status).toBe('processing');
    expect(between.attempts[0]).toMatchObject({ statusCode: 503, willRetry: true });
    const res = await cancel(task.id);
    expect(res.status, res.text).toBe(200);
    expect(res.body.task).toMatchObject({ status: 'cancelled', retryCount: 1 });
    expect(res.body.task.attempts).toHaveLength(1);

    // The retry job (due 1–1.2 s after the first attempt) still runs; it must not call out.
    // Why 2.5 s: past the linear 1 s (+20 %) step and a 1 s worker poll, with room to spare.
    await new Promise((r) => setTimeout(r, 2_500));
    const retryJobs = (await ctx.db.jobs('dispatch', task.id)).slice(1);
    expect(retryJobs.map((j) => j.state)).toEqual(['completed']);
    const after = await getTask(task.id);
    expect(after.status).toBe('cancelled');
    expect(after.attempts).toHaveLength(1);
    expect(requestsFor(task.id)).toHaveLength(1);
  });

  it('answers 409 for a completed task, and for a second cancel', async () => {
    const { task } = await create({ targetUrl: ctx.provider.url('/ok?cancel=completed') });
    await waitForStatus(ctx.t.url, ctx.team.apiKey, task.id, 'completed');
    const late = await cancel(task.id);
    expectErrorBody(late, 409, 'conflict');
    expect(late.body.error).toBe('Task is already completed');
    expect((await getTask(task.id)).status).toBe('completed');

    const delayed = await create({
      targetUrl: ctx.provider.url('/ok?cancel=twice'),
      delayUntil: new Date(Date.now() + 3_600_000).toISOString(),
    });
    expect((await cancel(delayed.task.id)).status).toBe(200);
    const again = await cancel(delayed.task.id);
    expectErrorBody(again, 409, 'conflict');
    expect(again.body.error).toBe('Task is already cancelled');
  });

  it("answers 404 for another team's task and leaves it alone", async () => {
    const { task } = await create({
      targetUrl: ctx.provider.url('/ok?cancel=foreign'),
      delayUntil: new Date(Date.now() + 3_600_000).toISOString(),
    });
    const other = await ctx.t.newTeam();
    const res = await cancel(task.id, other.apiKey);
    expectErrorBody(res, 404, 'not_found');
    expect((await getTask(task.id)).status).toBe('delayed');
  });
});
