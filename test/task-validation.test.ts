import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from './helpers/http.ts';
import {
  BASE_TASK,
  CREATED_TASK_KEYS,
  countTasks,
  createTask,
  detailPaths,
  expectErrorBody,
  HEX_64,
  ISO_MS,
  TASK_KEYS,
  UUID_V7,
} from './helpers/tasks.ts';
import { startTestApp, type TestApp, type TestTeam } from './helpers/test-app.ts';
import { MiB, MULTIBYTE_AT_LIMIT, MULTIBYTE_OVER_LIMIT, REJECT_CASES } from './helpers/validation-cases.ts';

let t: TestApp;
/** Only ever sends rejected requests: its task count must stay 0. */
let rejected: TestTeam;
/** Creates the accepted tasks. */
let team: TestTeam;

beforeAll(async () => {
  t = await startTestApp();
  rejected = await t.newTeam();
  team = await t.newTeam();
});
afterAll(() => t.stop());

describe('POST /v1/tasks rejects bad input and stores nothing', () => {
  it('uses a body with fewer characters than 1 MiB but more UTF-8 bytes', () => {
    expect(MULTIBYTE_OVER_LIMIT.length).toBeLessThan(MiB);
    expect(Buffer.byteLength(MULTIBYTE_OVER_LIMIT, 'utf8')).toBeGreaterThan(MiB);
    expect(Buffer.byteLength(JSON.stringify({ ...BASE_TASK, body: MULTIBYTE_OVER_LIMIT }))).toBeLessThan(
      MiB + 64 * 1024,
    );
  });

  it.each(REJECT_CASES)('$name', async (c) => {
    const res = await api(t.url, 'POST', '/v1/tasks', {
      key: rejected.apiKey,
      ...(c.body !== undefined ? { body: c.body } : {}),
      ...(c.rawBody !== undefined ? { rawBody: c.rawBody } : {}),
      ...(c.headers ? { headers: c.headers } : {}),
    });
    const status = c.status ?? 400;
    expectErrorBody(res, status, c.code ?? (status === 400 ? 'validation_failed' : undefined));
    if (status === 400) {
      expect(Array.isArray(res.body.details)).toBe(true);
      for (const path of c.paths ?? []) expect(detailPaths(res)).toContain(path);
    }
    expect(await countTasks(t.url, rejected.apiKey)).toBe(0);
  });

  it('names every bad field when several are wrong', async () => {
    const res = await api(t.url, 'POST', '/v1/tasks', {
      key: rejected.apiKey,
      body: { ...BASE_TASK, timeout: 0, priority: 11, method: 'TRACE', extra: 1 },
    });
    expectErrorBody(res, 400, 'validation_failed');
    expect(detailPaths(res)).toEqual(expect.arrayContaining(['timeout', 'priority', 'method', 'extra']));
    expect(await countTasks(t.url, rejected.apiKey)).toBe(0);
  });

  it('rejects "timeout": "30" on the tRPC transport with HTTP 400 too', async () => {
    const res = await api(t.url, 'POST', '/trpc/tasks.create', {
      key: rejected.apiKey,
      body: { ...BASE_TASK, timeout: '30' },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.data.aq.code).toBe('validation_failed');
    expect(detailPaths({ ...res, body: res.body.error.data.aq })).toContain('timeout');
    expect(await countTasks(t.url, rejected.apiKey)).toBe(0);
  });
});

describe('POST /v1/tasks accepts valid input', () => {
  it('applies the defaults and returns every task field, absent values as null', async () => {
    const res = await createTask(t.url, team.apiKey, BASE_TASK);
    expect(Object.keys(res.body)).toEqual(['task']);
    const task = res.body.task;
    expect(Object.keys(task).sort()).toEqual(CREATED_TASK_KEYS);
    expect(task).toMatchObject({
      status: 'pending',
      targetUrl: BASE_TASK.targetUrl,
      method: 'POST',
      headers: {},
      body: '{}',
      timeout: 30,
      maxRetries: 3,
      retryBackoff: 'exponential',
      priority: 5,
      waitForSignal: false,
      maxWaitTime: 300,
      hasCallback: false,
      retryCount: 0,
      attempts: [],
      webhookDeliveries: [],
      cancelRequested: false,
    });
    for (const key of ['callbackId', 'delayUntil', 'onCompleteUrl', 'provider', 'pollConfig', 'result', 'error']) {
      expect(task[key], key).toBeNull();
    }
    for (const key of ['progress', 'startedAt', 'completedAt']) expect(task[key], key).toBeNull();
    expect(task.id).toMatch(UUID_V7);
    expect(task.createdAt).toMatch(ISO_MS);
    expect(task.updatedAt).toMatch(ISO_MS);
  });

  it('reads back through GET with exactly the task keys (no callbackId)', async () => {
    const created = await createTask(t.url, team.apiKey, { ...BASE_TASK, priority: 9, maxRetries: 0 });
    const res = await api(t.url, 'GET', `/v1/tasks/${created.body.task.id}`, { key: team.apiKey });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body)).toEqual(['task']);
    expect(Object.keys(res.body.task).sort()).toEqual(TASK_KEYS);
    expect(res.body.task).toMatchObject({ id: created.body.task.id, priority: 9, maxRetries: 0, body: '{}' });
  });

  it('accepts the placeholder in the query string and gives a callback id and URL', async () => {
    const targetUrl = 'https://example.com/start?webhook={asyncqueue_callback_url}&x=1';
    const res = await createTask(t.url, team.apiKey, { ...BASE_TASK, targetUrl });
    expect(Object.keys(res.body).sort()).toEqual(['callbackUrl', 'task']);
    expect(Object.keys(res.body.task).sort()).toEqual(CREATED_TASK_KEYS);
    expect(res.body.task.callbackId).toMatch(HEX_64);
    expect(res.body.task.hasCallback).toBe(true);
    expect(res.body.task.targetUrl).toBe(targetUrl);
    expect(res.body.callbackUrl).toMatch(new RegExp(`^https?://[^/]+/v1/callbacks/${res.body.task.callbackId}$`));
  });

  it('gives a signal token only when waitForSignal is true', async () => {
    const res = await createTask(t.url, team.apiKey, { ...BASE_TASK, waitForSignal: true });
    expect(Object.keys(res.body).sort()).toEqual(['signalToken', 'task']);
    expect(Object.keys(res.body.task).sort()).toEqual(CREATED_TASK_KEYS);
    expect(res.body.signalToken).toMatch(HEX_64);
    expect(res.body.task.callbackId).toBeNull();
    expect(res.body.task.waitForSignal).toBe(true);
  });

  it('keeps the body of a GET task', async () => {
    const created = await createTask(t.url, team.apiKey, { ...BASE_TASK, method: 'GET', body: 'kept for GET' });
    expect(created.body.task).toMatchObject({ method: 'GET', body: 'kept for GET' });
    const res = await api(t.url, 'GET', `/v1/tasks/${created.body.task.id}`, { key: team.apiKey });
    expect(res.body.task.body).toBe('kept for GET');
  });

  it('accepts a body of exactly 1 MiB of UTF-8 bytes', async () => {
    const res = await createTask(t.url, team.apiKey, { ...BASE_TASK, body: MULTIBYTE_AT_LIMIT });
    expect(res.body.task.body).toBe(MULTIBYTE_AT_LIMIT);
  });

  it('is pending for a delayUntil in the past and delayed for one in the future', async () => {
    const past = new Date(Date.now() - 60_000).toISOString();
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const then = await createTask(t.url, team.apiKey, { ...BASE_TASK, delayUntil: past });
    expect(then.body.task.status).toBe('pending');
    expect(then.body.task.delayUntil).toBe(past);
    const later = await createTask(t.url, team.apiKey, { ...BASE_TASK, delayUntil: future });
    expect(later.body.task.status).toBe('delayed');
    expect(later.body.task.delayUntil).toBe(future);
  });

  it('expands a provider preset into pollConfig', async () => {
    const res = await createTask(t.url, team.apiKey, { ...BASE_TASK, provider: 'replicate' });
    expect(res.body.task.provider).toBe('replicate');
    expect(res.body.task.pollConfig).toMatchObject({
      urlTemplate: 'https://api.replicate.com/v1/predictions/{startResult.body.id}',
      statusPath: 'status',
      doneValues: ['succeeded'],
      failValues: ['failed', 'canceled'],
      resultPath: 'output',
      errorPath: 'error',
      interval: 5,
      maxDuration: 600,
      forwardAuth: true,
    });
    const read = await api(t.url, 'GET', `/v1/tasks/${res.body.task.id}`, { key: team.apiKey });
    expect(read.body.task.pollConfig).toEqual(res.body.task.pollConfig);
  });

  it('accepts the onCompleteUrl and loopback targets the test app allows', async () => {
    const res = await createTask(t.url, team.apiKey, {
      ...BASE_TASK,
      delayUntil: new Date(Date.now() + 3_600_000).toISOString(),
      targetUrl: 'http://127.0.0.1:9/x',
      onCompleteUrl: 'https://example.com/done',
    });
    expect(res.body.task.onCompleteUrl).toBe('https://example.com/done');
  });
});

describe('contract edges of the create body and the vault', () => {
  it('answers a JSON array body with one detail for the whole body (path ""), saying an object is expected', async () => {
    for (const body of [[BASE_TASK], [], 'text', 7, null]) {
      const res = await api(t.url, 'POST', '/v1/tasks', {
        key: rejected.apiKey,
        rawBody: JSON.stringify(body),
        headers: { 'content-type': 'application/json' },
      });
      expectErrorBody(res, 400, 'validation_failed');
      expect(res.body.details).toEqual([{ path: '', message: expect.stringMatching(/object/) }]);
    }
    expect(await countTasks(t.url, rejected.apiKey)).toBe(0);
  });

  it('refuses NUL (U+0000) in a token name or value with 400 naming the field, and stores nothing', async () => {
    for (const [field, body] of [
      ['name', { name: 'a\u0000b', value: 'secret' }],
      ['value', { name: 'nul-value', value: 'se\u0000cret' }],
    ] as const) {
      const res = await api(t.url, 'POST', '/v1/tokens', { key: rejected.apiKey, body });
      expectErrorBody(res, 400, 'validation_failed');
      expect(detailPaths(res)).toEqual([field]);
    }
    const list = await api(t.url, 'GET', '/v1/tokens', { key: rejected.apiKey });
    expect(list.body.tokens).toEqual([]);
  });

  it('accepts a live vault reference of the team, refuses another team’s token id', async () => {
    const token = await api(t.url, 'POST', '/v1/tokens', { key: team.apiKey, body: { name: 'k', value: 'v' } });
    expect(token.status).toBe(201);
    const ok = await createTask(t.url, team.apiKey, { ...BASE_TASK, headers: { Authorization: token.body.token.id } });
    expect(ok.body.task.headers.Authorization).toBeDefined();
    const res = await api(t.url, 'POST', '/v1/tasks', {
      key: rejected.apiKey,
      body: { ...BASE_TASK, headers: { Authorization: token.body.token.id } },
    });
    expectErrorBody(res, 400, 'validation_failed');
    expect(detailPaths(res)).toEqual(['headers.Authorization']);
    expect(await countTasks(t.url, rejected.apiKey)).toBe(0);
  });
});
