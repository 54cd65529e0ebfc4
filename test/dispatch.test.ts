import { describe, expect, it } from 'vitest';
import { api } from './helpers/http.ts';
import { useLifecycleFixture } from './helpers/lifecycle-fixture.ts';
import { waitFor } from './helpers/wait-for.ts';

// Default limits; the app's database is not read here.
const ctx = useLifecycleFixture({}, { appDb: false });
const { create, until } = ctx;
// No status check: both uses poll inside waitFor, which retries on any failure.
const getTask = async (id: string) =>
  (await api(ctx.t.url, 'GET', `/v1/tasks/${id}`, { key: ctx.team.apiKey })).body.task;

describe('dispatch', () => {
  it('calls the target and completes with its response, signed, then delivers a verified webhook', async () => {
    const { task } = await create({
      targetUrl: ctx.provider.url('/ok'),
      body: '{"prompt":"a cat"}',
      headers: { 'X-Custom': 'yes' },
      onCompleteUrl: ctx.sink.url,
    });
    const done = await until(task.id, 'completed');
    expect(done.result).toMatchObject({ statusCode: 200, bodyEncoding: 'utf8', bodyTruncated: false });
    expect(JSON.parse(done.result.body)).toEqual({ ok: true, id: 'gen_1' });
    expect(done.attempts).toHaveLength(1);
    expect(done.attempts[0]).toMatchObject({ number: 1, statusCode: 200, error: null, willRetry: false });
    const seen = ctx.provider.requestsTo('/ok').at(-1)!;
    expect(seen.body).toBe('{"prompt":"a cat"}');
    expect(seen.headers['x-custom']).toBe('yes');
    expect(seen.headers['user-agent']).toMatch(/^AsyncQueue\//);
    expect(seen.headers['x-asyncqueue-task-id']).toBe(task.id);
    expect(seen.headers['x-asyncqueue-attempt']).toBe('1');
    const delivery = await waitFor('webhook', () => ctx.sink.forTask(task.id)[0]);
    expect(delivery).toMatchObject({
      event: 'task.completed',
      status: 'completed',
      standardValid: true,
      asyncQueueValid: true,
    });
    const withDelivery = await waitFor('delivery recorded', async () => {
      const current = await getTask(task.id);
      return current.webhookDeliveries.length === 1 ? current : null;
    });
    expect(withDelivery.webhookDeliveries[0]).toMatchObject({ attempt: 1, statusCode: 200, error: null });
  });

  it('retries 500s with backoff and completes', async () => {
    const { task } = await create({
      targetUrl: ctx.provider.url('/fail?times=2&key=r1'),
      maxRetries: 3,
      retryBackoff: 'linear',
    });
    const done = await until(task.id, 'completed', { timeoutMs: 20_000 });
    expect(done.retryCount).toBe(2);
    expect(done.attempts.map((a: { statusCode: number; willRetry: boolean }) => [a.statusCode, a.willRetry])).toEqual([
      [500, true],
      [500, true],
      [200, false],
    ]);
  });

  it('fails at once on a non-retryable 4xx and keeps the response', async () => {
    const { task } = await create({ targetUrl: ctx.provider.url('/status/422'), onCompleteUrl: ctx.sink.url });
    const done = await until(task.id, 'failed');
    expect(done.result.statusCode).toBe(422);
    expect(done.attempts).toHaveLength(1);
    const delivery = await waitFor('failed webhook', () => ctx.sink.forTask(task.id)[0]);
    expect(delivery.event).toBe('task.failed');
  });

  it('accepts a callback that arrives before the dispatch response', async () => {
    const created = await create({
      targetUrl: ctx.provider.url('/callback-first'),
      headers: { 'X-Callback': '{asyncqueue_callback_url}' },
    });
    const done = await until(created.task.id, 'completed');
    expect(done.result.body).toBe('{"status":"done","output":"from-callback"}');
    // The dispatch job then sees a terminal task and records only its attempt.
    const recorded = await waitFor('the attempt to be recorded', async () => {
      const task = await getTask(created.task.id);
      return task.attempts.length === 1 ? task : null;
    });
    expect(recorded.status).toBe('completed');
    expect(recorded.result.body).toBe(done.result.body);
    expect(recorded.attempts[0]).toMatchObject({ number: 1, statusCode: 200 });
    expect(ctx.provider.callbackResults.at(-1)).toBe(200);
  });

  it('waits for a signal and completes with its result', async () => {
    const created = await create({ targetUrl: ctx.provider.url('/ok'), waitForSignal: true });
    await until(created.task.id, 'waiting');
    const sig = await api(ctx.t.url, 'POST', `/v1/signals/${created.signalToken}`, {
      body: { status: 'completed', result: { approved: true } },
    });
    expect(sig.status).toBe(200);
    expect(sig.body.task.status).toBe('completed');
    expect(sig.body.task.result.body).toBe('{"approved":true}');
    const again = await api(ctx.t.url, 'POST', `/v1/signals/${created.signalToken}`, { body: { status: 'completed' } });
    expect(again.status).toBe(404);
    expect(again.body.error).toBe('Invalid or expired signal token');
  });

  it('times out a waiting task at maxWaitTime', async () => {
    const created = await create({
      targetUrl: ctx.provider.url('/ok'),
      waitForSignal: true,
      maxWaitTime: 1,
      onCompleteUrl: ctx.sink.url,
    });
    const done = await until(created.task.id, 'timeout');
    expect(done.error).toContain('maxWaitTime');
    const delivery = await waitFor('timeout webhook', () => ctx.sink.forTask(created.task.id)[0]);
    expect(delivery.event).toBe('task.timeout');
  });

  it('long-polls: GET ?wait returns as soon as the status changes', async () => {
    const created = await create({ targetUrl: ctx.provider.url('/ok'), waitForSignal: true });
    await until(created.task.id, 'waiting');
    const started = Date.now();
    const polling = api(ctx.t.url, 'GET', `/v1/tasks/${created.task.id}?wait=20`, { key: ctx.team.apiKey });
    await new Promise((r) => setTimeout(r, 200));
    const signalAt = Date.now();
    await api(ctx.t.url, 'POST', `/v1/signals/${created.signalToken}`, {
      body: { status: 'failed', error: 'rejected' },
    });
    const res = await polling;
    const wokeAfter = Date.now() - signalAt;
    expect(res.body.task.status).toBe('failed');
    expect(res.body.task.error).toBe('rejected');
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(wokeAfter).toBeLessThan(2_000);
  });
});
