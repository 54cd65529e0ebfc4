import { describe, expect, it } from 'vitest';
import { useAiProviderFixture } from './helpers/ai-provider-fixture.ts';
import { FAKE_OUTPUTS, type FakeJob, type Scenario } from './helpers/fake-ai-providers.ts';
import { api } from './helpers/http.ts';
import { waitForStatus } from './helpers/task-waits.ts';
import { waitFor } from './helpers/wait-for.ts';

const ctx = useAiProviderFixture({
  // Why: the tests read tasks and send provider callbacks many times over (×REPEATS in parallel);
  // the limits are tested in rate-limit.test.ts.
  ASYNCQUEUE_RATE_LIMIT_PER_MINUTE: '100000',
  ASYNCQUEUE_CALLBACK_RATE_LIMIT_PER_MINUTE: '100000',
});
const { getTask } = ctx;

const REPEATS = 5;
const NOT_WAITING = 'Task is not in waiting/polling state (current: completed)';

/** A Replicate prediction that both calls back (webhook) and is polled: status `polling`. */
async function startHybrid(scenario: Scenario, extra: Record<string, unknown> = {}) {
  const res = await api(ctx.t.url, 'POST', '/v1/tasks', {
    key: ctx.team.apiKey,
    body: {
      targetUrl: ctx.fake.url('/v1/predictions'),
      headers: { Authorization: 'Bearer r8_hybridSecret', 'X-Fake-Scenario': scenario },
      body: JSON.stringify({
        version: '39ed52f2a78e',
        input: { prompt: 'a cat' },
        webhook: '{asyncqueue_callback_url}',
        webhook_events_filter: ['start', 'completed'],
      }),
      provider: 'replicate',
      onCompleteUrl: ctx.sink.url,
      ...extra,
    },
  });
  expect(res.status, res.text).toBe(201);
  expect(res.body.task.hasCallback).toBe(true);
  const id = res.body.task.id as string;
  await ctx.jobs.untilStatus(id, 'polling');
  const polling = await getTask(id);
  expect(polling.status).toBe('polling');
  expect(polling.hasCallback).toBe(true);
  const job = ctx.fake.jobForTask(id) as FakeJob;
  expect(job).toBeDefined();
  expect(job.callbackUrl).toBe(res.body.callbackUrl);
  return { id, job };
}

/** Exactly one completion webhook, and no second webhook job for the task. */
const expectOneWebhook = (taskId: string) =>
  ctx.expectOneWebhook(taskId, { event: 'task.completed', status: 'completed', standardValid: true });

describe('hybrid tasks (callback + polling)', () => {
  it(`callback first: 200 completes the task and polling stops (×${REPEATS})`, async () => {
    await Promise.all(
      Array.from({ length: REPEATS }, async () => {
        const { id, job } = await startHybrid('never');
        await ctx.jobs.pollNow(id);
        expect(job.polls).toBe(1);
        expect((await getTask(id)).progress.status).toBe('processing');

        // Replicate's `start` webhook is not final: progress, and the id stays usable.
        const start = await ctx.fake.sendCallback(job, 'processing');
        expect(start.status).toBe(202);
        expect(start.body.task.status).toBe('polling');

        const cb = await ctx.fake.sendCallback(job, 'succeeded');
        expect(cb.status).toBe(200);
        expect(cb.body.task.status).toBe('completed');
        expect(cb.body.task.result).toMatchObject({ statusCode: 200, body: cb.raw });
        const completedAt = cb.body.task.completedAt;

        // The poll already scheduled runs now: it must see a completed task and call nobody.
        const pollsBefore = ctx.fake.requestsFor(job.id, 'status').length;
        await ctx.jobs.pollNow(id);
        expect(ctx.fake.requestsFor(job.id, 'status')).toHaveLength(pollsBefore);
        expect(job.polls).toBe(1);
        expect(await ctx.jobs.queued('poll', id)).toEqual([]);
        // The maxDuration expiry is harmless too.
        await ctx.jobs.expireNow(id);

        const final = await getTask(id);
        expect(final.status).toBe('completed');
        expect(final.result.body).toBe(cb.raw);
        expect(final.completedAt).toBe(completedAt);
        expect(final.error).toBeNull();
        const delivery = await expectOneWebhook(id);
        expect(delivery.body.task.result.body).toBe(cb.raw);
      }),
    );
  });

  it(`poll first: the poll completes the task, a later callback gets 409 (×${REPEATS})`, async () => {
    await Promise.all(
      Array.from({ length: REPEATS }, async () => {
        const { id, job } = await startHybrid('success');
        await ctx.jobs.pollNow(id);
        await ctx.jobs.pollNow(id);
        const done = await waitForStatus(ctx.t.url, ctx.team.apiKey, id, 'completed', 10_000);
        expect(done.result.body).toBe(JSON.stringify(FAKE_OUTPUTS.replicateOutput));
        expect(job.polls).toBe(2);

        const late = await ctx.fake.sendCallback(job, 'succeeded');
        expect(late.status).toBe(409);
        expect(late.body.error).toBe(NOT_WAITING);
        // The id stays unusable: the same answer again, and the task is untouched.
        const again = await ctx.fake.sendCallback(job, 'succeeded');
        expect(again.status).toBe(409);
        expect(again.body.error).toBe(NOT_WAITING);

        const final = await getTask(id);
        expect(final.status).toBe('completed');
        expect(final.result.body).toBe(JSON.stringify(FAKE_OUTPUTS.replicateOutput));
        expect(final.completedAt).toBe(done.completedAt);
        const delivery = await expectOneWebhook(id);
        expect(delivery.body.task.result.body).toBe(done.result.body);
      }),
    );
  });

  it(`callback and final poll at about the same moment: exactly one wins (×${REPEATS})`, async () => {
    await Promise.all(
      Array.from({ length: REPEATS }, async (_, i) => {
        const { id, job } = await startHybrid('success');
        await ctx.jobs.pollNow(id);
        expect(job.polls).toBe(1);
        const [next] = await ctx.jobs.queued('poll', id);
        expect(next).toBeDefined();
        await ctx.jobs.sql('update pgboss.job set start_after = now() where id = ?', [next?.id]);
        // Timing is the subject: the worker picks the due poll within ~1 s, so spreading the
        // callbacks over that window lands some before and some after the poll.
        await new Promise((r) => setTimeout(r, i * 250));
        const cb = await ctx.fake.sendCallback(job, 'succeeded');
        expect([200, 409]).toContain(cb.status);
        const done = await waitForStatus(ctx.t.url, ctx.team.apiKey, id, 'completed', 10_000);
        if (cb.status === 200) {
          expect(done.result.body).toBe(cb.raw);
        } else {
          expect(cb.body.error).toBe(NOT_WAITING);
          expect(done.result.body).toBe(JSON.stringify(FAKE_OUTPUTS.replicateOutput));
        }
        // Let the due poll finish whichever way it went, then check nothing happened twice.
        await waitFor('the raced poll job to finish', async () => {
          const rows = await ctx.jobs.jobs('poll', id);
          return rows.every((r) => r.state === 'completed' || r.state === 'failed');
        });
        const final = await getTask(id);
        expect(final.status).toBe('completed');
        expect(final.result.body).toBe(done.result.body);
        await expectOneWebhook(id);
      }),
    );
  });

  it('a final webhook that beats the create response completes the task and no polling starts', async () => {
    const res = await api(ctx.t.url, 'POST', '/v1/tasks', {
      key: ctx.team.apiKey,
      body: {
        targetUrl: ctx.fake.url('/v1/predictions'),
        headers: { Authorization: 'Bearer r8_hybridSecret', 'X-Fake-Callback-First': 'succeeded' },
        body: JSON.stringify({ version: 'v', input: {}, webhook: '{asyncqueue_callback_url}' }),
        provider: 'replicate',
        onCompleteUrl: ctx.sink.url,
      },
    });
    expect(res.status, res.text).toBe(201);
    const id = res.body.task.id as string;
    const done = await waitForStatus(ctx.t.url, ctx.team.apiKey, id, 'completed');
    const job = ctx.fake.jobForTask(id) as FakeJob;
    // The task completes before the fake has read AsyncQueue's answer to its webhook.
    expect(await waitFor('the early webhook answer', () => job.earlyCallbackStatus)).toBe(200);
    expect(JSON.parse(done.result.body).status).toBe('succeeded');
    // The dispatch job then records only its attempt: no poll, no expiry.
    const recorded = await waitFor('the attempt to be recorded', async () => {
      const task = await getTask(id);
      return task.attempts.length === 1 ? task : null;
    });
    expect(recorded.status).toBe('completed');
    expect(recorded.result.body).toBe(done.result.body);
    expect(await ctx.jobs.count('poll', id)).toBe(0);
    expect(await ctx.jobs.count('expire', id)).toBe(0);
    expect(job.polls).toBe(0);
    await expectOneWebhook(id);
  });

  it('a cancelled hybrid task stops polling and refuses its callback with 409', async () => {
    const { id, job } = await startHybrid('never');
    const cancel = await api(ctx.t.url, 'POST', `/v1/tasks/${id}/cancel`, { key: ctx.team.apiKey });
    expect(cancel.status, cancel.text).toBe(200);
    expect(cancel.body.task.status).toBe('cancelled');
    await ctx.jobs.pollNow(id);
    expect(job.polls).toBe(0);
    expect(await ctx.jobs.queued('poll', id)).toEqual([]);
    const cb = await ctx.fake.sendCallback(job, 'succeeded');
    expect(cb.status).toBe(409);
    expect(cb.body.error).toBe('Task is not in waiting/polling state (current: cancelled)');
    expect((await getTask(id)).status).toBe('cancelled');
  });

  it('is bounded by maxDuration, not maxWaitTime', async () => {
    const { id } = await startHybrid('never', { maxWaitTime: 1 });
    // Timing is the subject: maxWaitTime (1 s) must NOT end a hybrid task, so wait past it.
    await new Promise((r) => setTimeout(r, 2_500));
    const still = await getTask(id);
    expect(still.status).toBe('polling');
    expect(still.maxWaitTime).toBe(1);
    expect(still.error).toBeNull();
    const [row] = await ctx.jobs.sql<{ left: number }>(
      'select extract(epoch from deadline_at - now())::float as left from tasks where id = ?',
      [id],
    );
    // Replicate's maxDuration is 600 s.
    expect(row?.left).toBeGreaterThan(560);
    expect(row?.left).toBeLessThanOrEqual(600);
    await ctx.jobs.expireNow(id);
    const done = await waitForStatus(ctx.t.url, ctx.team.apiKey, id, 'timeout', 10_000);
    expect(done.error).toContain('maxDuration');
    expect(done.error).not.toContain('maxWaitTime');
  });
});
