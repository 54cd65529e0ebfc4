import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeProvider, startFakeProvider } from './helpers/fake-provider.ts';
import { api } from './helpers/http.ts';
import { createWaitingCallbackTask, waitForStatus } from './helpers/task-waits.ts';
import { startTestApp, type TestApp, type TestTeam } from './helpers/test-app.ts';

let provider: FakeProvider;
let t: TestApp;
let team: TestTeam;

beforeAll(async () => {
  provider = await startFakeProvider();
  // Small callback budget so the per-IP limit is reachable; MAX_CALLBACK_BYTES small so 413 is cheap.
  t = await startTestApp({
    ASYNCQUEUE_CALLBACK_RATE_LIMIT_PER_MINUTE: '40',
    ASYNCQUEUE_MAX_CALLBACK_BYTES: '65536',
  });
  team = await t.newTeam();
});
afterAll(async () => {
  await t.stop();
  await provider.stop();
});

const waitingCallbackTask = () => createWaitingCallbackTask(t.url, team.apiKey, provider.url('/ok'));

describe('POST /v1/callbacks/:id input checks', () => {
  it('answers 404 for an id of the wrong format, without a database look-up', async () => {
    for (const bad of ['abc', 'A'.repeat(64), `${'a'.repeat(63)}g`, 'a'.repeat(65)]) {
      const res = await api(t.url, 'POST', `/v1/callbacks/${bad}`, { body: { ok: true } });
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ error: 'Invalid or expired callback ID', code: 'not_found' });
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    }
  });

  it('answers 404 for an unknown well-formed id, 400 for a non-JSON body, 413 past the size limit', async () => {
    const unknown = await api(t.url, 'POST', `/v1/callbacks/${'0'.repeat(64)}`, { body: { ok: true } });
    expect(unknown.status).toBe(404);
    const task = await waitingCallbackTask();
    const notJson = await api(t.url, 'POST', task.path, {
      rawBody: 'status=done',
      headers: { 'content-type': 'text/plain' },
    });
    expect(notJson.status).toBe(400);
    expect(notJson.body.error).toBe('Request body is not valid JSON');
    const huge = await api(t.url, 'POST', task.path, { rawBody: JSON.stringify({ blob: 'x'.repeat(70_000) }) });
    expect(huge.status).toBe(413);
    // Neither bad request used up the id: a good callback still completes the task.
    const ok = await api(t.url, 'POST', task.path, { body: { status: 'done' } });
    expect(ok.status).toBe(200);
    expect(ok.body.task.status).toBe('completed');
    expect(ok.body.task.result).toEqual({
      statusCode: 200,
      headers: { 'content-type': 'application/json' },
      body: '{"status":"done"}',
      bodyEncoding: 'utf8',
      duration: 0,
      bodyTruncated: false,
    });
    expect(ok.body.task.result.headers['content-type']).toBe('application/json');
  });

  it('keeps provider signature headers in the result, and nothing else', async () => {
    const task = await waitingCallbackTask();
    const res = await api(t.url, 'POST', task.path, {
      body: { status: 'OK' },
      headers: {
        'webhook-id': 'msg_1',
        'webhook-signature': 'v1,abc',
        'x-fal-webhook-signature': 'deadbeef',
        'elevenlabs-signature': 't=1,v0=ff',
        authorization: 'Bearer not-kept',
        'x-other': 'not kept',
      },
    });
    expect(res.status).toBe(200);
    expect(res.body.task.result.headers).toEqual({
      'content-type': 'application/json',
      'webhook-id': 'msg_1',
      'webhook-signature': 'v1,abc',
      'x-fal-webhook-signature': 'deadbeef',
      'elevenlabs-signature': 't=1,v0=ff',
    });
  });

  it('validates signal bodies: 400 naming the field, the token stays usable', async () => {
    const created = await api(t.url, 'POST', '/v1/tasks', {
      key: team.apiKey,
      body: { targetUrl: provider.url('/ok'), waitForSignal: true },
    });
    await waitForStatus(t.url, team.apiKey, created.body.task.id, 'waiting');
    const path = `/v1/signals/${created.body.signalToken}`;
    const bad = await api(t.url, 'POST', path, { body: { status: 'done' } });
    expect(bad.status).toBe(400);
    expect(bad.body.details.map((d: { path: string }) => d.path)).toContain('status');
    const extra = await api(t.url, 'POST', path, { body: { status: 'completed', bogus: 1 } });
    expect(extra.status).toBe(400);
    const ok = await api(t.url, 'POST', path, { body: { status: 'completed', result: [1, 2] } });
    expect(ok.status).toBe(200);
    expect(ok.body.task.result.body).toBe('[1,2]');
  });
});

describe('POST /v1/signals/:token refuses NUL (U+0000)', () => {
  it('answers 400 naming `error` for a NUL in it (a text column cannot hold it), and the token stays usable', async () => {
    const created = await api(t.url, 'POST', '/v1/tasks', {
      key: team.apiKey,
      body: { targetUrl: provider.url('/ok'), waitForSignal: true },
    });
    await waitForStatus(t.url, team.apiKey, created.body.task.id, 'waiting');
    const path = `/v1/signals/${created.body.signalToken}`;
    const badError = await api(t.url, 'POST', path, { body: { status: 'failed', error: 'bad\u0000news' } });
    expect(badError.status).toBe(400);
    expect(badError.body.details.map((d: { path: string }) => d.path)).toEqual(['error']);
    const ok = await api(t.url, 'POST', path, { body: { status: 'failed', error: 'declined' } });
    expect(ok.status).toBe(200);
    expect(ok.body.task).toMatchObject({ status: 'failed', error: 'declined' });
  });
});

describe('per-IP rate limit of callbacks', () => {
  it('answers 429 with Retry-After past the budget, ignoring X-Forwarded-For without TRUST_PROXY', async () => {
    const statuses: number[] = [];
    let limited: Awaited<ReturnType<typeof api>> | undefined;
    for (let i = 0; i < 45; i += 1) {
      // A spoofed X-Forwarded-For must not buy a fresh budget.
      const res = await api(t.url, 'POST', `/v1/callbacks/${'1'.repeat(64)}`, {
        body: { i },
        headers: { 'x-forwarded-for': `203.0.113.${i}` },
      });
      statuses.push(res.status);
      if (res.status === 429) limited ??= res;
    }
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
    expect(limited?.body).toEqual({ error: 'Rate limit exceeded', code: 'rate_limited' });
    const retryAfter = Number(limited?.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    // Signals have their own budget.
    const signal = await api(t.url, 'POST', `/v1/signals/${'2'.repeat(64)}`, { body: { status: 'completed' } });
    expect(signal.status).toBe(404);
  });
});
