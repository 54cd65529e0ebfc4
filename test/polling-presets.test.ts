import { describe, expect, it } from 'vitest';
import { useAiProviderFixture } from './helpers/ai-provider-fixture.ts';
import { FAKE_OUTPUTS, type FakeJob, type FakeProviderId, type Scenario } from './helpers/fake-ai-providers.ts';
import { api } from './helpers/http.ts';
import { startRecordingServer } from './helpers/recording-server.ts';
import { waitForStatus } from './helpers/task-waits.ts';

const ctx = useAiProviderFixture({
  // Why: every preset runs its three scenarios in parallel, each reading its task after every poll
  // (and luma sends callbacks); the limits are tested in rate-limit.test.ts.
  ASYNCQUEUE_RATE_LIMIT_PER_MINUTE: '100000',
  ASYNCQUEUE_CALLBACK_RATE_LIMIT_PER_MINUTE: '100000',
});
const { getTask } = ctx;

type Case = {
  provider: FakeProviderId;
  /** Path of the provider's create endpoint on the fake. */
  createPath: string;
  headers: Record<string, string>;
  body: unknown;
  /** Status responses until the final one (the scenario's sequence length). */
  polls: Record<'success' | 'failure', number>;
  interval: number;
  maxDuration: number;
  /** Checks the stored result of a successful task against what the fake served. */
  expectSuccess: (result: any, job: FakeJob) => void;
  expectedError: (job: FakeJob) => string;
  /** Checks the headers of every poll (status or result fetch). */
  expectPollHeaders: (headers: Record<string, unknown>) => void;
};

const CASES: Case[] = [
  {
    provider: 'fal',
    createPath: '/fal/fal-ai/fast-sdxl/image-to-image',
    headers: { Authorization: 'Key fal-key-123:secret' },
    body: { prompt: 'a cat', image_url: 'https://example.com/cat.png' },
    polls: { success: 3, failure: 3 },
    interval: 3,
    maxDuration: 600,
    expectSuccess: (result, job) => {
      // The result comes from the second fetch (response_url): its status code and its raw body.
      expect(result.statusCode).toBe(200);
      expect(result.body).toBe(JSON.stringify(FAKE_OUTPUTS.falResult));
      expect(job.resultFetches).toBe(1);
    },
    // A non-2xx result fetch fails the task with the body as the error.
    expectedError: () => JSON.stringify(FAKE_OUTPUTS.falError),
    expectPollHeaders: (h) => expect(h.authorization).toBe('Key fal-key-123:secret'),
  },
  {
    provider: 'replicate',
    createPath: '/v1/predictions',
    headers: { Authorization: 'Bearer r8_replicateSecret' },
    body: { version: '39ed52f2a78e', input: { prompt: 'a cat' } },
    polls: { success: 2, failure: 2 },
    interval: 5,
    maxDuration: 600,
    expectSuccess: (result) => {
      expect(result.statusCode).toBe(200);
      expect(result.body).toBe(JSON.stringify(FAKE_OUTPUTS.replicateOutput));
    },
    expectedError: () => FAKE_OUTPUTS.replicateError,
    expectPollHeaders: (h) => expect(h.authorization).toBe('Bearer r8_replicateSecret'),
  },
  {
    provider: 'runwayml',
    createPath: '/v1/image_to_video',
    headers: { Authorization: 'Bearer key_runwaySecret', 'X-Runway-Version': '2024-11-06' },
    body: { model: 'gen4_turbo', promptImage: 'https://example.com/cat.png', ratio: '1280:720', duration: 5 },
    polls: { success: 4, failure: 2 },
    interval: 5,
    maxDuration: 600,
    expectSuccess: (result) => {
      expect(result.statusCode).toBe(200);
      expect(result.body).toBe(JSON.stringify(FAKE_OUTPUTS.runwayOutput));
    },
    expectedError: () => FAKE_OUTPUTS.runwayFailure,
    expectPollHeaders: (h) => {
      expect(h['x-runway-version']).toBe('2024-11-06');
      expect(h.authorization).toBe('Bearer key_runwaySecret');
    },
  },
  {
    provider: 'luma',
    createPath: '/dream-machine/v1/generations',
    headers: { Authorization: 'Bearer luma-secret-key' },
    body: { prompt: 'a cat surfing', model: 'ray-2' },
    polls: { success: 2, failure: 2 },
    interval: 5,
    maxDuration: 600,
    expectSuccess: (result) => {
      expect(result.statusCode).toBe(200);
      expect(result.body).toBe(JSON.stringify(FAKE_OUTPUTS.lumaVideo));
    },
    expectedError: () => FAKE_OUTPUTS.lumaFailure,
    expectPollHeaders: (h) => expect(h.authorization).toBe('Bearer luma-secret-key'),
  },
  {
    provider: 'elevenlabs-dubbing',
    createPath: '/v1/dubbing',
    headers: { 'xi-api-key': 'xi-eleven-secret' },
    body: { source_url: 'https://example.com/talk.mp4', target_lang: 'es' },
    polls: { success: 2, failure: 2 },
    interval: 10,
    maxDuration: 1800,
    expectSuccess: (result, job) => {
      // No resultPath: the whole status body.
      expect(result.statusCode).toBe(200);
      expect(result.body).toBe(JSON.stringify(job.served.at(-1)?.body));
      expect(JSON.parse(result.body).status).toBe('dubbed');
    },
    expectedError: () => FAKE_OUTPUTS.elevenError,
    expectPollHeaders: (h) => {
      expect(h['xi-api-key']).toBe('xi-eleven-secret');
      expect(h.authorization).toBeUndefined();
    },
  },
  {
    provider: 'stability-video',
    createPath: '/v2beta/image-to-video',
    headers: { Authorization: 'Bearer sk-stability-secret' },
    body: { image: 'base64-image', seed: 0, cfg_scale: 1.8, motion_bucket_id: 127 },
    polls: { success: 2, failure: 2 },
    interval: 10,
    maxDuration: 600,
    expectSuccess: (result) => {
      expect(result.statusCode).toBe(200);
      expect(JSON.parse(result.body)).toEqual({
        video: FAKE_OUTPUTS.stabilityVideo,
        finish_reason: 'SUCCESS',
        seed: 42,
      });
    },
    expectedError: (job) =>
      `404: ${JSON.stringify({ id: job.id, name: 'not_found', errors: [`Generation ${job.id} not found`] })}`,
    expectPollHeaders: (h) => {
      expect(h.accept).toBe('application/json');
      expect(h.authorization).toBe('Bearer sk-stability-secret');
    },
  },
];

const EVENTS: Record<Scenario, [status: string, event: string]> = {
  success: ['completed', 'task.completed'],
  failure: ['failed', 'task.failed'],
  never: ['timeout', 'task.timeout'],
};

async function startPresetTask(c: Case, scenario: Scenario, extraBody: Record<string, unknown> = {}) {
  const res = await api(ctx.t.url, 'POST', '/v1/tasks', {
    key: ctx.team.apiKey,
    body: {
      targetUrl: ctx.fake.url(c.createPath),
      headers: { ...c.headers, 'X-Fake-Scenario': scenario },
      body: JSON.stringify({ ...(c.body as object), ...extraBody }),
      provider: c.provider,
      onCompleteUrl: ctx.sink.url,
    },
  });
  expect(res.status, res.text).toBe(201);
  const id = res.body.task.id as string;
  await ctx.jobs.untilStatus(id, 'polling');
  const polling = await getTask(id);
  expect(polling.status).toBe('polling');
  expect(polling.provider).toBe(c.provider);
  expect(polling.attempts).toHaveLength(1);
  expect(polling.attempts[0]).toMatchObject({ number: 1, error: null, willRetry: false });
  const job = ctx.fake.jobForTask(id);
  expect(job, `the fake saw no create request for task ${id}`).toBeDefined();
  expect(job?.scenario).toBe(scenario);
  return { id, job: job as FakeJob, polling, callbackUrl: res.body.callbackUrl as string | undefined };
}

/** The task's single webhook delivery (and no second one queued). */
const expectOneWebhook = (taskId: string, event: string, status: string) =>
  ctx.expectOneWebhook(taskId, { event, status, standardValid: true, asyncQueueValid: true });

async function runScenario(c: Case, scenario: Scenario): Promise<void> {
  const { id, job } = await startPresetTask(c, scenario);
  expect(job.polls).toBe(0);
  // The first poll is due one `interval` after the dispatch (the provider has only just accepted it).
  const firstDue = await ctx.jobs.secondsUntilNextPoll(id);
  expect(firstDue).toBeGreaterThan(c.interval - 3);
  expect(firstDue).toBeLessThanOrEqual(c.interval);

  // First poll (backdated: the real first poll is `interval` s after dispatch).
  await ctx.jobs.pollNow(id);
  expect(job.polls).toBe(1);
  const during = await getTask(id);
  expect(during.status).toBe('polling');
  // progress is the last parsed status body while polling.
  expect(during.progress).toEqual(job.served[0]?.body);
  expect(during.result).toBeNull();
  // …and each next poll one `interval` after the previous one.
  const nextDue = await ctx.jobs.secondsUntilNextPoll(id);
  expect(nextDue).toBeGreaterThan(c.interval - 3);
  expect(nextDue).toBeLessThanOrEqual(c.interval);

  if (scenario === 'never') {
    const [row] = await ctx.jobs.sql<{ left: number }>(
      'select extract(epoch from deadline_at - now())::float as left from tasks where id = ?',
      [id],
    );
    // The deadline was set at dispatch to maxDuration from then.
    expect(row?.left).toBeGreaterThan(c.maxDuration - 30);
    expect(row?.left).toBeLessThanOrEqual(c.maxDuration);
    await ctx.jobs.pollNow(id);
    const still = await getTask(id);
    expect(still.status).toBe('polling');
    expect(still.progress).toEqual(job.served[1]?.body);
    await ctx.jobs.expireNow(id);
    const done = await waitForStatus(ctx.t.url, ctx.team.apiKey, id, 'timeout', 10_000);
    expect(done.error).toContain('maxDuration');
    expect(done.error).toContain(`${c.maxDuration} s`);
    expect(done.result).toBeNull();
    expect(done.completedAt).not.toBeNull();
    await expectOneWebhook(id, 'task.timeout', 'timeout');
    return;
  }

  for (let n = 2; n <= c.polls[scenario]; n += 1) {
    expect((await getTask(id)).status).toBe('polling');
    await ctx.jobs.pollNow(id);
    expect(job.polls).toBe(n);
    const now = await getTask(id);
    // Until the final status, progress follows the latest status body.
    if (now.status === 'polling') expect(now.progress).toEqual(job.served.at(-1)?.body);
  }
  const [status, event] = EVENTS[scenario];
  const done = await waitForStatus(ctx.t.url, ctx.team.apiKey, id, status, 10_000);
  if (scenario === 'success') {
    expect(done.error).toBeNull();
    expect(done.result).toMatchObject({ bodyTruncated: false });
    expect(typeof done.result.duration).toBe('number');
    expect(typeof done.result.headers).toBe('object');
    c.expectSuccess(done.result, job);
  } else {
    const expected = c.expectedError(job);
    if (c.provider === 'stability-video') expect(done.error).toContain(expected);
    else expect(done.error).toBe(expected);
  }
  // No poll after the final status, and nothing left queued.
  expect(await ctx.jobs.queued('poll', id)).toEqual([]);
  expect(job.polls).toBe(c.polls[scenario]);
  for (const req of ctx.fake.requestsFor(job.id).filter((r) => r.kind !== 'create')) {
    expect(req.method).toBe('GET');
    c.expectPollHeaders(req.headers);
  }
  await expectOneWebhook(id, event, status);
}

describe('provider presets, driven by backdated polls', () => {
  for (const c of CASES) {
    it(`${c.provider}: success, failure and timeout`, async () => {
      await Promise.all((['success', 'failure', 'never'] as const).map((s) => runScenario(c, s)));
    });
  }

  it('fal fetches the result from response_url with the forwarded Authorization', async () => {
    const c = CASES[0] as Case;
    const { id, job } = await startPresetTask(c, 'success');
    for (let n = 1; n <= 3; n += 1) await ctx.jobs.pollNow(id);
    await waitForStatus(ctx.t.url, ctx.team.apiKey, id, 'completed', 10_000);
    const statusPolls = ctx.fake.requestsFor(job.id, 'status');
    const fetches = ctx.fake.requestsFor(job.id, 'result');
    expect(statusPolls.map((r) => r.path)).toEqual(Array(3).fill(new URL(`${job.falBase}/status`).pathname));
    expect(fetches.map((r) => r.path)).toEqual([new URL(job.falBase as string).pathname]);
    expect(fetches[0]?.headers.authorization).toBe('Key fal-key-123:secret');
  });

  it("fal: a status_url and response_url on another origin never receive the task's Authorization", async () => {
    // A fal look-alike whose submit response names URLs on a second server (another origin).
    const elsewhere = await startRecordingServer({
      answer: (req) =>
        req.path.endsWith('/status')
          ? { status: 200, headers: { 'content-type': 'application/json' }, body: '{"status":"COMPLETED"}' }
          : { status: 200, headers: { 'content-type': 'application/json' }, body: '{"images":[]}' },
    });
    const submit = await startRecordingServer({
      answer: () => ({
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ status_url: elsewhere.url('/req/1/status'), response_url: elsewhere.url('/req/1') }),
      }),
    });
    try {
      const res = await api(ctx.t.url, 'POST', '/v1/tasks', {
        key: ctx.team.apiKey,
        body: {
          targetUrl: submit.url('/fal-ai/model'),
          headers: { Authorization: 'Key fal-secret-never-elsewhere' },
          provider: 'fal',
        },
      });
      expect(res.status, res.text).toBe(201);
      const id = res.body.task.id as string;
      await ctx.jobs.untilStatus(id, 'polling');
      await ctx.jobs.pollNow(id);
      const done = await waitForStatus(ctx.t.url, ctx.team.apiKey, id, 'completed', 10_000);
      expect(JSON.parse(done.result.body)).toEqual({ images: [] });
      expect(submit.received[0]?.headers.authorization).toBe('Key fal-secret-never-elsewhere');
      expect(elsewhere.received.map((r) => r.path)).toEqual(['/req/1/status', '/req/1']);
      for (const req of elsewhere.received) expect(req.headers.authorization).toBeUndefined();
    } finally {
      await submit.stop();
      await elsewhere.stop();
    }
  });

  it('luma: a dreaming callback is progress (202), the completed callback completes the task (200)', async () => {
    const c = CASES.find((x) => x.provider === 'luma') as Case;
    const { id, job, callbackUrl } = await startPresetTask(c, 'never', { callback_url: '{asyncqueue_callback_url}' });
    expect(callbackUrl).toMatch(/\/v1\/callbacks\/[0-9a-f]{64}$/);
    // The hybrid task still polls: a callback placeholder plus a preset → `polling`.
    expect(job.callbackUrl).toBe(callbackUrl);

    const dreaming = await ctx.fake.sendCallback(job, 'dreaming');
    expect(dreaming.status).toBe(202);
    expect(dreaming.body.task.status).toBe('polling');
    expect(dreaming.body.task.progress).toEqual(JSON.parse(dreaming.raw));
    const afterDreaming = await getTask(id);
    expect(afterDreaming.status).toBe('polling');
    expect(afterDreaming.progress).toEqual(JSON.parse(dreaming.raw));
    expect(afterDreaming.progress.state).toBe('dreaming');

    // A second non-final payload does not use up the id either.
    const again = await ctx.fake.sendCallback(job, 'dreaming');
    expect(again.status).toBe(202);

    const completed = await ctx.fake.sendCallback(job, 'completed');
    expect(completed.status).toBe(200);
    expect(completed.body.task.status).toBe('completed');
    expect(completed.body.task.result).toMatchObject({ statusCode: 200, body: completed.raw, duration: 0 });
    expect(completed.body.task.result.headers['content-type']).toBe('application/json');

    // The id is used up now.
    const late = await ctx.fake.sendCallback(job, 'completed');
    expect(late.status).toBe(404);
    expect(late.body.error).toBe('Invalid or expired callback ID');

    // The scheduled poll finds a completed task and does not call the provider.
    await ctx.jobs.pollNow(id);
    expect(job.polls).toBe(0);
    expect(await ctx.jobs.queued('poll', id)).toEqual([]);
    const final = await getTask(id);
    expect(final.status).toBe('completed');
    expect(final.result.body).toBe(completed.raw);
    await expectOneWebhook(id, 'task.completed', 'completed');
  });
});
