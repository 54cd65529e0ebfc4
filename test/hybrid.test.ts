import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FAKE_OUTPUTS,
  type FakeAiProviders,
  type FakeJob,
  type JobControl,
  jobControl,
  type Scenario,
  startFakeAiProviders,
} from './helpers/fake-ai-providers.ts';
import { api } from './helpers/http.ts';
import { waitForStatus } from './helpers/task-waits.ts';
import { startTestApp, type TestApp, type TestTeam } from './helpers/test-app.ts';
import { waitFor } from './helpers/wait-for.ts';
import { startWebhookSink, type WebhookSink } from './helpers/webhook-sink.ts';

let t: TestApp;
let team: TestTeam;
let fake: FakeAiProviders;
let sink: WebhookSink;
let jobs: JobControl;

beforeAll(async () => {
  fake = await startFakeAiProviders();
  t = await startTestApp({
    ASYNCQUEUE_PROVIDER_BASE_URLS: fake.baseUrlsEnv,
    ASYNCQUEUE_RATE_LIMIT_PER_MINUTE: '100000',
    ASYNCQUEUE_CALLBACK_RATE_LIMIT_PER_MINUTE: '100000',
  });
  team = await t.newTeam();
  sink = await startWebhookSink(() => team.webhookSecret);
  jobs = jobControl(t.app.orm);
});
afterAll(async () => {
  await t?.stop();
  await fake?.stop();
  await sink?.stop();
});

const REPEATS = 5;
const NOT_WAITING = 'Task is not in waiting/polling state (current: completed)';

const getTask = async (id: string) => {
  const res = await api(t.url, 'GET', `/v1/tasks/${id}`, { key: team.apiKey });
  expect(res.status, res.text).toBe(200);
  return res.body.task;
};

/** A Replicate prediction that both calls back (webhook) and is polled: status `polling`. */
async function startHybrid(scenario: Scenario, extra: Record<string, unknown> = {}) {
  const res = await api(t.url, 'POST', '/v1/tasks', {
    key: team.apiKey,
    body: {
      targetUrl: fake.url('/v1/predictions'),
      headers: { Authorization: 'Bearer r8_hybridSecret', 'X-Fake-Scenario': scenario },
      body: JSON.stringify({
        version: '39ed52f2a78e',
        input: { prompt: 'a cat' },
        webhook: '{asyncqueue_callback_url}',
        webhook_events_filter: ['start', 'completed'],
      }),
      provider: 'replicate',
      onCompleteUrl: sink.url,
      ...extra,
    },
  });
  expect(res.status, res.text).toBe(201);
  expect(res.body.task.hasCallback).toBe(true);
  const id = res.body.task.id as string;
  await jobs.untilStatus(id, 'polling');
  const polling = await getTask(id);
  expect(polling.status).toBe('polling');
  expect(polling.hasCallback).toBe(true);
  const job = fake.jobForTask(id) as FakeJob;
  expect(job).toBeDefined();
  expect(job.callbackUrl).toBe(res.body.callbackUrl);
  return { id, job };
}

/** Exactly one completion webhook, and no second webhook job for the task. */
async function expectOneWebhook(taskId: string) {
  const delivery = await waitFor(`webhook for ${taskId}`, () => sink.forTask(taskId)[0]);
  expect(delivery).toMatchObject({ event: 'task.completed', status: 'completed', standardValid: true });
  expect(await jobs.count('webhook', taskId)).toBe(1);
  expect(sink.forTask(taskId)).toHaveLength(1);
  return delivery;
}

describe('hybrid tasks (callback + polling)', () => {
  it(`callback first: 200 completes the task and polling stops (×${REPEATS})`, async () => {
    await Promise.all(
      Array.from({ length: REPEATS }, async () => {
        const { id, job } = await startHybrid('never');
        await jobs.pollNow(id);
        expect(job.polls).toBe(1);
        expect((await getTask(id)).progress.status).toBe('processing');

        // Replicate's `start` webhook is not final: progress, and the id stays usable.
        const start = await fake.sendCallback(job, 'processing');
        expect(start.status).toBe(202);
        expect(start.body.task.status).toBe('polling');

        const cb = await fake.sendCallback(job, 'succeeded');
        expect(cb.status).toBe(200);
        expect(cb.body.task.status).toBe('completed');
        expect(cb.body.task.result).toMatchObject({ statusCode: 200, body: cb.raw });
        const completedAt = cb.body.task.completedAt;

        // The poll already scheduled runs now: it must see a completed task and call nobody.
        const pollsBefore = fake.requestsFor(job.id, 'status').length;
        await jobs.pollNow(id);
        expect(fake.requestsFor(job.id, 'status')).toHaveLength(pollsBefore);
        expect(job.polls).toBe(1);
        expect(await jobs.queued('poll', id)).toEqual([]);
        // The maxDuration expiry is harmless too.
        await jobs.expireNow(id);

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
        await jobs.pollNow(id);
        await jobs.pollNow(id);
        const done = await waitForStatus(t.url, team.apiKey, id, 'completed', 10_000);
        expect(done.result.body).toBe(JSON.stringify(FAKE_OUTPUTS.replicateOutput));
        expect(job.polls).toBe(2);

        const late = await fake.sendCallback(job, 'succeeded');
        expect(late.status).toBe(409);
        expect(late.body.error).toBe(NOT_WAITING);
        // The id stays unusable: the same answer again, and the task is untouched.
        const again = await fake.sendCallback(job, 'succeeded');
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
        await jobs.pollNow(id);
        expect(job.polls).toBe(1);
        const [next] = await jobs.queued('poll', id);
        expect(next).toBeDefined();
        await jobs.sql('update pgboss.job set start_after = now() where id = ?', [next?.id]);
        // Timing is the subject: the worker picks the due poll within ~1 s, so spreading the
        // callbacks over that window lands some before and some after the poll.
        await new Promise((r) => setTimeout(r, i * 250));
        const cb = await fake.sendCallback(job, 'succeeded');
        expect([200, 409]).toContain(cb.status);
        const done = await waitForStatus(t.url, team.apiKey, id, 'completed', 10_000);
        if (cb.status === 200) {
          expect(done.result.body).toBe(cb.raw);
        } else {
          expect(cb.body.error).toBe(NOT_WAITING);
          expect(done.result.body).toBe(JSON.stringify(FAKE_OUTPUTS.replicateOutput));
        }
        // Let the due poll finish whichever way it went, then check nothing happened twice.
        await waitFor('the raced poll job to finish', async () => {
          const rows = await jobs.jobs('poll', id);
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
    const res = await api(t.url, 'POST', '/v1/tasks', {
      key: team.apiKey,
      body: {
        targetUrl: fake.url('/v1/predictions'),
        headers: { Authorization: 'Bearer r8_hybridSecret', 'X-Fake-Callback-First': 'succeeded' },
        body: JSON.stringify({ version: 'v', input: {}, webhook: '{asyncqueue_callback_url}' }),
        provider: 'replicate',
        onCompleteUrl: sink.url,
      },
    });
    expect(res.status, res.text).toBe(201);
    const id = res.body.task.id as string;
    const done = await waitForStatus(t.url, team.apiKey, id, 'completed');
    const job = fake.jobForTask(id) as FakeJob;
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
    expect(await jobs.count('poll', id)).toBe(0);
    expect(await jobs.count('expire', id)).toBe(0);
    expect(job.polls).toBe(0);
    await expectOneWebhook(id);
  });

  it('a cancelled hybrid task stops polling and refuses its callback with 409', async () => {
    const { id, job } = await startHybrid('never');
    const cancel = await api(t.url, 'POST', `/v1/tasks/${id}/cancel`, { key: team.apiKey });
    expect(cancel.status, cancel.text).toBe(200);
    expect(cancel.body.task.status).toBe('cancelled');
    await jobs.pollNow(id);
    expect(job.polls).toBe(0);
    expect(await jobs.queued('poll', id)).toEqual([]);
    const cb = await fake.sendCallback(job, 'succeeded');
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
    const [row] = await jobs.sql<{ left: number }>(
      'select extract(epoch from deadline_at - now())::float as left from tasks where id = ?',
      [id],
    );
    // Replicate's maxDuration is 600 s.
    expect(row?.left).toBeGreaterThan(560);
    expect(row?.left).toBeLessThanOrEqual(600);
    await jobs.expireNow(id);
    const done = await waitForStatus(t.url, team.apiKey, id, 'timeout', 10_000);
    expect(done.error).toContain('maxDuration');
    expect(done.error).not.toContain('maxWaitTime');
  });
});
