import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FlowProvider, startFlowProvider } from './helpers/flow-provider.ts';
import { api } from './helpers/http.ts';
import { startTestApp, type TestApp, type TestTeam } from './helpers/test-app.ts';
import { waitFor } from './helpers/wait-for.ts';

let t: TestApp;
let team: TestTeam;
let other: TestTeam;
let provider: FlowProvider;

beforeAll(async () => {
  t = await startTestApp({ LOG_LEVEL: 'info' });
  team = await t.newTeam();
  other = await t.newTeam();
  provider = await startFlowProvider();
}, 60_000);

afterAll(async () => {
  await provider?.stop();
  await t?.stop();
});

const call = (method: string, path: string, body?: unknown, key = team.apiKey) => api(t.url, method, path, { key, body });
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
