import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AsyncQueue, NotFoundError } from '../sdk/src/index.ts';
import { type FlowProvider, startFlowProvider } from './helpers/flow-provider.ts';
import { api } from './helpers/http.ts';
import { startTestApp, type TestApp, type TestTeam } from './helpers/test-app.ts';
import { waitFor } from './helpers/wait-for.ts';

let t: TestApp;
let team: TestTeam;
let other: TestTeam;
let provider: FlowProvider;

beforeAll(async () => {
  t = await startTestApp({ LOG_LEVEL: 'info', ASYNCQUEUE_RATE_LIMIT_PER_MINUTE: '100000' });
  team = await t.newTeam();
  other = await t.newTeam();
  provider = await startFlowProvider();
}, 60_000);

afterAll(async () => {
  await provider?.stop();
  await t?.stop();
});

const call = (method: string, path: string, body?: unknown, key = team.apiKey) =>
  api(t.url, method, path, { key, body });
const getTask = async (id: string) => (await call('GET', `/v1/tasks/${id}`)).body.task;
/** A task whose job runs at the fake provider until it calls back `ms` later. */
const jobTask = (flowKey: string | null | undefined, ms = 300, extra: Record<string, unknown> = {}) => ({
  targetUrl: provider.url(`/job?ms=${ms}`),
  body: '{"callback":"{asyncqueue_callback_url}"}',
  ...(flowKey === undefined ? {} : { flowKey }),
  ...extra,
});
const createTask = async (body: unknown) => {
  const res = await call('POST', '/v1/tasks', body);
  expect(res.status, res.text).toBe(201);
  return res.body.task as { id: string; flowKey: string | null; status: string };
};

describe('flow keys: API and validation', () => {
  it('upserts, reads, lists, pauses, resumes and deletes a key, per team', async () => {
    const put = await call('PUT', '/v1/flow-keys/fal', { concurrency: 3, ratePerMinute: 100 });
    expect(put.status, put.text).toBe(200);
    expect(put.body.flowKey).toMatchObject({
      key: 'fal',
      concurrency: 3,
      ratePerMinute: 100,
      scope: 'task',
      effectiveConcurrency: 3,
      paused: false,
      pausedUntil: null,
      inFlight: 0,
      queued: 0,
      throttled: 0,
    });
    // Left out keeps, null clears.
    const cleared = await call('PUT', '/v1/flow-keys/fal', { ratePerMinute: null, scope: 'request' });
    expect(cleared.body.flowKey).toMatchObject({ concurrency: 3, ratePerMinute: null, scope: 'request' });
    expect((await call('GET', '/v1/flow-keys/fal')).body.flowKey.scope).toBe('request');
    expect((await call('GET', '/v1/flow-keys')).body.flowKeys.map((k: { key: string }) => k.key)).toEqual(['fal']);
    expect((await call('GET', '/v1/flow-keys', undefined, other.apiKey)).body.flowKeys).toEqual([]);
    expect((await call('GET', '/v1/flow-keys/fal', undefined, other.apiKey)).status).toBe(404);
    expect((await call('POST', '/v1/flow-keys/fal/pause')).body.flowKey.paused).toBe(true);
    expect((await call('POST', '/v1/flow-keys/fal/resume')).body.flowKey.paused).toBe(false);
    expect((await call('DELETE', '/v1/flow-keys/fal')).status).toBe(200);
    expect((await call('GET', '/v1/flow-keys/fal')).status).toBe(404);
    expect((await call('POST', '/v1/flow-keys/fal/pause')).status).toBe(404);
  });

  it('rejects bad keys and limits with 400 naming the field, and stores nothing', async () => {
    const cases: [string, unknown, string][] = [
      ['/v1/flow-keys/bad%20key', { concurrency: 1 }, 'key'],
      [`/v1/flow-keys/${'k'.repeat(129)}`, { concurrency: 1 }, 'key'],
      ['/v1/flow-keys/ok', { concurrency: 0 }, 'concurrency'],
      ['/v1/flow-keys/ok', { concurrency: 10_001 }, 'concurrency'],
      ['/v1/flow-keys/ok', { ratePerMinute: 1.5 }, 'ratePerMinute'],
      ['/v1/flow-keys/ok', { scope: 'job' }, 'scope'],
      ['/v1/flow-keys/ok', { concurrency: 1, extra: true }, ''],
    ];
    for (const [path, body, field] of cases) {
      const res = await call('PUT', path, body);
      expect(res.status, `${path} ${JSON.stringify(body)}: ${res.text}`).toBe(400);
      if (field) expect(JSON.stringify(res.body.details)).toContain(field);
    }
    expect((await call('GET', '/v1/flow-keys')).body.flowKeys).toEqual([]);
    for (const flowKey of ['', 'a b', 'x'.repeat(129), 5]) {
      const res = await call('POST', '/v1/tasks', jobTask(flowKey as string));
      expect(res.status, res.text).toBe(400);
      expect(JSON.stringify(res.body.details)).toContain('flowKey');
    }
  });

  it('shows flowKey on tasks: the preset id by default for a provider task, else null or as given', async () => {
    const plain = await createTask({ targetUrl: provider.url('/call'), delayUntil: '2099-01-01T00:00:00Z' });
    expect(plain.flowKey).toBeNull();
    const named = await createTask({ ...jobTask('acct:model-1.v2'), delayUntil: '2099-01-01T00:00:00Z' });
    expect(named.flowKey).toBe('acct:model-1.v2');
    const preset = { targetUrl: provider.url('/call'), provider: 'fal', delayUntil: '2099-01-01T00:00:00Z' };
    expect((await createTask(preset)).flowKey).toBe('fal');
    expect((await createTask({ ...preset, flowKey: null })).flowKey).toBeNull();
    expect((await getTask(named.id)).flowKey).toBe('acct:model-1.v2');
  });
});

describe('flow keys: held tasks', () => {
  it('holds tasks over the limit as pending with no attempt, hands a freed slot over, and says why', async () => {
    await call('PUT', '/v1/flow-keys/held-1', { concurrency: 1 });
    const first = await createTask(jobTask('held-1', 600));
    const second = await createTask(jobTask('held-1', 100));
    await waitFor('first running', async () => (await getTask(first.id)).status === 'waiting');
    const queue = await waitFor('second held', async () => {
      const q = (await call('GET', `/v1/tasks/${second.id}/queue`)).body;
      return q.held ? q : null;
    });
    expect(queue).toEqual({ flowKey: 'held-1', held: true, reason: 'concurrency', position: 1, retryAt: null });
    const held = await getTask(second.id);
    expect(held).toMatchObject({ status: 'pending', retryCount: 0, attempts: [] });
    const figures = (await call('GET', '/v1/flow-keys/held-1')).body.flowKey;
    expect(figures).toMatchObject({ inFlight: 1, queued: 1 });
    expect((await call('GET', `/v1/tasks/${first.id}/queue`)).body).toEqual({
      flowKey: 'held-1',
      held: false,
      reason: null,
      position: null,
      retryAt: null,
    });
    await waitFor('both completed', async () => (await getTask(second.id)).status === 'completed', 15_000);
    const firstDone = await getTask(first.id);
    const secondSubmit = provider.submits.find((s) => s.taskId === second.id);
    // The second started only after the first's callback completed it.
    expect(secondSubmit!.at).toBeGreaterThanOrEqual(new Date(firstDone.completedAt).getTime() - 5);
    expect((await call('GET', `/v1/tasks/${second.id}/queue`, undefined, other.apiKey)).status).toBe(404);
  });
});

describe('flow keys: pause, cancel, delete, request scope', () => {
  it('a paused key dispatches nothing until resumed; a held task can be cancelled', async () => {
    await call('PUT', '/v1/flow-keys/pause-1', { concurrency: 5 });
    await call('POST', '/v1/flow-keys/pause-1/pause');
    const a = await createTask(jobTask('pause-1', 50));
    const b = await createTask(jobTask('pause-1', 50));
    const q = await waitFor('held while paused', async () => {
      const res = (await call('GET', `/v1/tasks/${b.id}/queue`)).body;
      return res.held ? res : null;
    });
    expect(q).toMatchObject({ held: true, reason: 'paused', retryAt: null });
    expect(q.position).toBeGreaterThanOrEqual(1);
    // Cancel works as for any pending task.
    const cancelled = await call('POST', `/v1/tasks/${a.id}/cancel`);
    expect(cancelled.body.task.status).toBe('cancelled');
    await new Promise((r) => setTimeout(r, 1500));
    expect(provider.submits.some((s) => s.taskId === a.id || s.taskId === b.id)).toBe(false);
    expect((await call('GET', '/v1/flow-keys/pause-1')).body.flowKey.queued).toBe(1);
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).toContain(`asyncqueue_flow_queued{key="pause-1",team="${team.teamId}"} 1`);
    expect(metrics).toContain(`asyncqueue_flow_in_flight{key="pause-1",team="${team.teamId}"} 0`);
    await call('POST', '/v1/flow-keys/pause-1/resume');
    await waitFor('resumed task completed', async () => (await getTask(b.id)).status === 'completed', 15_000);
    expect((await getTask(a.id)).status).toBe('cancelled');
    expect(provider.submits.some((s) => s.taskId === a.id)).toBe(false);
  });

  it('deleting a key with queued tasks lets them all run, unlimited', async () => {
    await call('PUT', '/v1/flow-keys/del-1', { concurrency: 1 });
    const tasks: { id: string }[] = [];
    for (let i = 0; i < 6; i++) tasks.push(await createTask(jobTask('del-1', 1500)));
    await waitFor('five held', async () => (await call('GET', '/v1/flow-keys/del-1')).body.flowKey.queued === 5);
    provider.resetMax();
    expect((await call('DELETE', '/v1/flow-keys/del-1')).status).toBe(200);
    await waitFor(
      'all running at once',
      () => tasks.every((t) => provider.submits.some((s) => s.taskId === t.id)),
      5_000,
    );
    expect(provider.maxRunning()).toBeGreaterThanOrEqual(6);
    for (const t of tasks) await waitFor('completed', async () => (await getTask(t.id)).status === 'completed');
  });

  it('scope request holds a slot only during the HTTP call, not while the task waits', async () => {
    await call('PUT', '/v1/flow-keys/req-1', { concurrency: 1, scope: 'request' });
    const tasks: { id: string }[] = [];
    for (let i = 0; i < 4; i++) tasks.push(await createTask(jobTask('req-1', 3000)));
    // Each call answers at once; the tasks then wait for their callbacks (3 s) without a slot.
    await waitFor(
      'all four submitted while the first still waits',
      async () => (await Promise.all(tasks.map((t) => getTask(t.id)))).every((t) => t.status === 'waiting'),
      2_800,
    );
    expect((await call('GET', '/v1/flow-keys/req-1')).body.flowKey.inFlight).toBe(0);
  });
});

describe('flow keys: adaptive 429', () => {
  it('a 429 pauses the key until Retry-After, halves effectiveConcurrency, then it climbs back; no task fails', async () => {
    // The fake answers 429 (Retry-After: 2) once 3 calls already run: the 4th concurrent job.
    await call('PUT', '/v1/flow-keys/aimd-1', { concurrency: 8 });
    const tasks: { id: string }[] = [];
    for (let i = 0; i < 16; i++) {
      tasks.push(
        await createTask({
          targetUrl: provider.url('/limited?max=3&ms=400&retryAfter=2'),
          flowKey: 'aimd-1',
          maxRetries: 0,
        }),
      );
    }
    const throttled = await waitFor('a 429', () =>
      provider.submits.find((s) => s.path === '/limited' && s.status === 429),
    );
    const during = (await call('GET', '/v1/flow-keys/aimd-1')).body.flowKey;
    expect(during.effectiveConcurrency).toBeLessThan(8);
    expect(during.throttled).toBeGreaterThanOrEqual(1);
    expect(during.pausedUntil).not.toBeNull();
    for (const t of tasks) await waitFor('completed', async () => (await getTask(t.id)).status === 'completed', 30_000);
    // Nothing reached the key within the 2 s after the last 429 (measured at the fake).
    const limited = provider.submits.filter((s) => s.path === '/limited');
    const last429 = limited.filter((s) => s.status === 429).at(-1)!;
    const tooEarly = limited.filter((s) => s.at > last429.at && s.at < last429.at + 2000 - 50);
    expect(tooEarly, `calls within 2 s of a 429 at ${last429.at}`).toEqual([]);
    expect(throttled.at).toBeLessThanOrEqual(last429.at);
    // No retry was spent on a 429; the throttled attempt is on record.
    const done = await Promise.all(tasks.map((t) => getTask(t.id)));
    expect(done.every((t) => t.retryCount === 0)).toBe(true);
    const withThrottle = done.find((t) => t.attempts.some((a: { statusCode: number }) => a.statusCode === 429));
    expect(withThrottle.attempts[0]).toMatchObject({ statusCode: 429, willRetry: true });
    const after = (await call('GET', '/v1/flow-keys/aimd-1')).body.flowKey;
    expect(after.effectiveConcurrency).toBeGreaterThan(during.effectiveConcurrency);
  });
});

describe('flow keys: SDK', () => {
  it('aq.flowKeys.* and aq.tasks.queue work end to end', async () => {
    const aq = new AsyncQueue({ apiKey: team.apiKey, baseUrl: t.url });
    const created = await aq.flowKeys.upsert('sdk-1', { concurrency: 1 });
    expect(created).toMatchObject({ key: 'sdk-1', concurrency: 1, scope: 'task', inFlight: 0 });
    expect((await aq.flowKeys.list()).map((k) => k.key)).toContain('sdk-1');
    expect((await aq.flowKeys.pause('sdk-1')).paused).toBe(true);
    const { task } = await aq.tasks.create({ targetUrl: provider.url('/call'), flowKey: 'sdk-1' });
    const queue = await waitFor('held', async () => {
      const q = await aq.tasks.queue(task.id);
      return q.held ? q : null;
    });
    expect(queue).toEqual({ flowKey: 'sdk-1', held: true, reason: 'paused', position: 1, retryAt: null });
    expect((await aq.flowKeys.resume('sdk-1')).paused).toBe(false);
    expect((await aq.tasks.wait(task.id, { timeoutMs: 10_000 })).status).toBe('completed');
    expect((await aq.flowKeys.get('sdk-1')).inFlight).toBe(0);
    expect((await aq.flowKeys.delete('sdk-1')).key).toBe('sdk-1');
    await expect(aq.flowKeys.get('sdk-1')).rejects.toBeInstanceOf(NotFoundError);
  });
});
