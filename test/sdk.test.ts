import { createHmac, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  APIError,
  AsyncQueue,
  AsyncQueueError,
  AuthenticationError,
  ConflictError,
  ConnectionError,
  NotFoundError,
  RateLimitError,
  type Task,
  ValidationError,
  WaitTimeoutError,
  WebhookVerificationError,
} from '../sdk/src/index.ts';
import { type FakeProvider, startFakeProvider } from './helpers/fake-provider.ts';
import { type FaultProxy, startFaultProxy, startRawWebhookReceiver } from './helpers/sdk-proxy.ts';
import { UUID_V7 } from './helpers/tasks.ts';
import { freePort, startTestApp, type TestApp, type TestTeam } from './helpers/test-app.ts';
import { waitFor } from './helpers/wait-for.ts';

let t: TestApp;
let team: TestTeam;
let provider: FakeProvider;
let proxy: FaultProxy;
let aq: AsyncQueue;

beforeAll(async () => {
  t = await startTestApp();
  team = await t.newTeam();
  provider = await startFakeProvider();
  proxy = await startFaultProxy(t.url);
  aq = new AsyncQueue({ apiKey: team.apiKey, baseUrl: t.url });
});
afterAll(async () => {
  await proxy.stop();
  await provider.stop();
  await t.stop();
});

const delayed = (n: number) => ({
  targetUrl: `https://example.com/hook/${n}`,
  body: JSON.stringify({ n }),
  delayUntil: new Date(Date.now() + 3_600_000).toISOString(),
});

/** An SDK client whose requests go through the fault proxy. */
const viaProxy = (apiKey: string, opts: { maxRetries?: number; timeoutMs?: number } = {}) =>
  new AsyncQueue({ apiKey, baseUrl: proxy.url, ...opts });

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to reject');
}

describe('tasks', () => {
  it('create → get → wait: a direct call completes with the target response', async () => {
    const created = await aq.tasks.create({ targetUrl: provider.url('/ok'), body: '{"prompt":"a cat"}' });
    expect(created.task.id).toMatch(UUID_V7);
    expect(['pending', 'processing', 'completed']).toContain(created.task.status);
    expect(created.task.callbackId).toBeNull();
    expect('callbackUrl' in created).toBe(false);
    expect('signalToken' in created).toBe(false);

    const done = await aq.tasks.wait(created.task.id, { timeoutMs: 45_000 });
    expect(done.status).toBe('completed');
    expect(done.result?.statusCode).toBe(200);
    expect(JSON.parse(done.result?.body ?? '')).toEqual({ ok: true, id: 'gen_1' });
    const read = await aq.tasks.get(created.task.id);
    expect(read.id).toBe(created.task.id);
    expect(read.status).toBe('completed');
    expect(read.attempts).toHaveLength(1);
  });

  it('createAndWait: a callback task returns the callback payload as its result', async () => {
    const done = await aq.tasks.createAndWait(
      { targetUrl: provider.url('/callback-first'), headers: { 'X-Callback': '{asyncqueue_callback_url}' } },
      { timeoutMs: 45_000 },
    );
    expect(done.status).toBe('completed');
    expect(done.hasCallback).toBe(true);
    expect(done.result?.body).toBe('{"status":"done","output":"from-callback"}');
  });

  it('create returns callbackUrl when the placeholder is used', async () => {
    const created = await aq.tasks.create({
      ...delayed(0),
      targetUrl: 'https://example.com/x?cb={asyncqueue_callback_url}',
    });
    expect(created.callbackUrl).toBe(`${t.url}/v1/callbacks/${created.task.callbackId}`);
    expect(created.task.callbackId).toMatch(/^[0-9a-f]{64}$/);
  });

  it('list pages, listAll and `for await` over list() walk every task newest first', async () => {
    const other = await t.newTeam();
    const client = new AsyncQueue({ apiKey: other.apiKey, baseUrl: t.url });
    const ids: string[] = [];
    for (let n = 0; n < 5; n += 1) ids.push((await client.tasks.create(delayed(n))).task.id);
    const newestFirst = [...ids].reverse();

    const first = await client.tasks.list({ limit: 2 });
    expect(first.tasks.map((x) => x.id)).toEqual(newestFirst.slice(0, 2));
    expect(first.pagination).toMatchObject({ limit: 2, hasMore: true });
    const second = await client.tasks.list({ limit: 2, cursor: first.pagination.nextCursor ?? '' });
    expect(second.tasks.map((x) => x.id)).toEqual(newestFirst.slice(2, 4));

    const all: string[] = [];
    for await (const task of client.tasks.listAll({ limit: 2, status: 'delayed' })) all.push(task.id);
    expect(all).toEqual(newestFirst);

    const iterated: string[] = [];
    for await (const task of client.tasks.list({ limit: 3 })) iterated.push(task.id);
    expect(iterated).toEqual(newestFirst);
    expect((await client.tasks.list({ status: 'completed' })).tasks).toEqual([]);
  });

  it('cancel ends a delayed task; cancelling again is a ConflictError', async () => {
    const { task } = await aq.tasks.create(delayed(1));
    const cancelled = await aq.tasks.cancel(task.id);
    expect(cancelled.status).toBe('cancelled');
    const error = await rejection(aq.tasks.cancel(task.id));
    expect(error).toBeInstanceOf(ConflictError);
    expect(error).toMatchObject({ status: 409, code: 'conflict', message: 'Task is already cancelled' });
  });

  it('watch yields each change until the end; signals.send completes a waiting task', async () => {
    const created = await aq.tasks.create({ targetUrl: provider.url('/ok'), waitForSignal: true });
    const token = created.signalToken ?? '';
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    const statuses: string[] = [];
    let signalled: Task | undefined;
    for await (const task of aq.tasks.watch(created.task.id, { timeoutMs: 45_000 })) {
      statuses.push(task.status);
      if (task.status === 'waiting' && !signalled) {
        signalled = await aq.signals.send(token, { status: 'completed', result: { approved: true } });
      }
    }
    expect(signalled?.status).toBe('completed');
    expect(signalled?.result?.body).toBe('{"approved":true}');
    expect(statuses).toContain('waiting');
    expect(statuses.at(-1)).toBe('completed');

    const again = await rejection(aq.signals.send(token, { status: 'completed' }));
    expect(again).toBeInstanceOf(NotFoundError);
    expect(again).toMatchObject({ status: 404, code: 'not_found', message: 'Invalid or expired signal token' });
  });

  it('wait throws WaitTimeoutError at its own deadline, carrying the last state', async () => {
    const created = await aq.tasks.create({ targetUrl: provider.url('/ok'), waitForSignal: true });
    const started = Date.now();
    const error = await rejection(aq.tasks.wait(created.task.id, { timeoutMs: 1_500, pollSeconds: 1 }));
    const elapsed = Date.now() - started;
    expect(error).toBeInstanceOf(WaitTimeoutError);
    expect(error).toMatchObject({ code: 'wait_timeout', status: undefined, taskId: created.task.id });
    expect(['pending', 'processing', 'waiting']).toContain((error as WaitTimeoutError).task?.status);
    expect(elapsed).toBeGreaterThanOrEqual(1_500);
    expect(elapsed).toBeLessThan(10_000);
  });

  it('an AbortSignal stops wait in the middle of a long-poll', async () => {
    const created = await aq.tasks.create({ targetUrl: provider.url('/ok'), waitForSignal: true });
    const client = viaProxy(team.apiKey);
    const controller = new AbortController();
    const reason = new Error('stopped by the caller');
    const started = Date.now();
    const waiting = rejection(client.tasks.wait(created.task.id, { signal: controller.signal }));
    const longPoll = JSON.stringify({ id: created.task.id, wait: 25 });
    await waitFor('the long-poll to reach the server', () =>
      proxy.to('/trpc/tasks.get').some((r) => decodeURIComponent(r.path).endsWith(`input=${longPoll}`)),
    );
    controller.abort(reason);
    expect(await waiting).toBe(reason);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describe('providers and tokens', () => {
  it('providers.list needs no API key and returns the presets', async () => {
    const anonymous = new AsyncQueue({ apiKey: '', baseUrl: t.url });
    const providers = await anonymous.providers.list();
    expect(providers.map((p) => p.id)).toEqual(
      expect.arrayContaining(['fal', 'replicate', 'runwayml', 'luma', 'elevenlabs-dubbing', 'stability-video']),
    );
    expect(providers.find((p) => p.id === 'replicate')?.pollConfig.statusPath).toBe('status');
  });

  it('tokens.create, list and delete', async () => {
    const token = await aq.tokens.create({ name: 'fal key', value: 'Key secret-value' });
    expect(token.id).toMatch(/^tok_[0-9A-Za-z]{24}$/);
    expect(token.name).toBe('fal key');
    expect((await aq.tokens.list()).map((x) => x.id)).toContain(token.id);
    expect(JSON.stringify(await aq.tokens.list())).not.toContain('secret-value');
    expect((await aq.tokens.delete(token.id)).id).toBe(token.id);
    expect((await aq.tokens.list()).map((x) => x.id)).not.toContain(token.id);
    expect(await rejection(aq.tokens.delete(token.id))).toBeInstanceOf(NotFoundError);
  });

  it('options default from ASYNCQUEUE_API_KEY and ASYNCQUEUE_BASE_URL', async () => {
    process.env.ASYNCQUEUE_API_KEY = team.apiKey;
    process.env.ASYNCQUEUE_BASE_URL = `${t.url}/`;
    try {
      const fromEnv = new AsyncQueue();
      expect(fromEnv.baseUrl).toBe(t.url);
      expect(Array.isArray((await fromEnv.tasks.list({ limit: 1 })).tasks)).toBe(true);
    } finally {
      delete process.env.ASYNCQUEUE_API_KEY;
      delete process.env.ASYNCQUEUE_BASE_URL;
    }
  });
});

describe('errors by status', () => {
  it('401 → AuthenticationError', async () => {
    const wrongKey = new AsyncQueue({ apiKey: `async_${'x'.repeat(48)}`, baseUrl: t.url });
    const error = await rejection(wrongKey.tasks.list());
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(error).toBeInstanceOf(APIError);
    expect(error).toMatchObject({ status: 401, code: 'unauthorized', message: 'Invalid or revoked API key' });
    const noKey = await rejection(new AsyncQueue({ apiKey: '', baseUrl: t.url }).tasks.list());
    expect(noKey).toMatchObject({ status: 401, message: 'API key required' });
  });

  it('404 → NotFoundError', async () => {
    const error = await rejection(aq.tasks.get('019d2b00-0000-7000-8000-000000000000'));
    expect(error).toBeInstanceOf(NotFoundError);
    expect(error).toMatchObject({ status: 404, code: 'not_found' });
  });

  it('400 → ValidationError with details per field', async () => {
    const error = await rejection(
      aq.tasks.create({ targetUrl: 'ftp://example.com/x', maxRetries: 99, timeout: 0 }, { maxRetries: 0 }),
    );
    expect(error).toBeInstanceOf(ValidationError);
    const validation = error as ValidationError;
    expect(validation).toMatchObject({ status: 400, code: 'validation_failed' });
    expect(validation.details?.map((d) => d.path).sort()).toEqual(['maxRetries', 'targetUrl', 'timeout']);
    for (const detail of validation.details ?? []) expect(detail.message.length).toBeGreaterThan(0);
  });

  it('409 → ConflictError for an idempotency key reused with another request', async () => {
    const key = `sdk-${randomBytes(4).toString('hex')}`;
    await aq.tasks.create({ ...delayed(2), idempotencyKey: key });
    const error = await rejection(aq.tasks.create({ ...delayed(3), idempotencyKey: key }));
    expect(error).toBeInstanceOf(ConflictError);
    expect(error).toMatchObject({ status: 409, code: 'idempotency_conflict' });
  });

  it('429 → RateLimitError with retryAfter', async () => {
    const limited = await startTestApp({ ASYNCQUEUE_RATE_LIMIT_PER_MINUTE: '2' });
    try {
      const other = await limited.newTeam();
      const client = new AsyncQueue({ apiKey: other.apiKey, baseUrl: limited.url, maxRetries: 0 });
      await client.tasks.list();
      await client.tasks.list();
      const error = await rejection(client.tasks.list());
      expect(error).toBeInstanceOf(RateLimitError);
      const rateLimit = error as RateLimitError;
      expect(rateLimit).toMatchObject({ status: 429, code: 'rate_limited' });
      expect(rateLimit.retryAfter).toBeGreaterThan(0);
      expect(rateLimit.retryAfter).toBeLessThanOrEqual(60);
      expect(rateLimit.message).toMatch(/^Rate limit exceeded/);
    } finally {
      await limited.stop();
    }
  });
});

describe('retries', () => {
  const isGet = (r: { path: string }) => r.path.startsWith('/trpc/tasks.get');

  it('get is retried after 503s and succeeds', async () => {
    const { task } = await aq.tasks.create(delayed(4));
    const before = proxy.to('/trpc/tasks.get').length;
    proxy.fail({ match: isGet, mode: 'before', times: 2 });
    const read = await viaProxy(team.apiKey).tasks.get(task.id);
    expect(read.id).toBe(task.id);
    expect(proxy.to('/trpc/tasks.get').length - before).toBe(3);
  });

  it('gives up after maxRetries with the last error (APIError for a 503)', async () => {
    const { task } = await aq.tasks.create(delayed(5));
    const before = proxy.to('/trpc/tasks.get').length;
    proxy.fail({ match: isGet, mode: 'before', times: 2 });
    const error = await rejection(viaProxy(team.apiKey, { maxRetries: 1 }).tasks.get(task.id));
    expect(error).toBeInstanceOf(APIError);
    expect(error).toMatchObject({ status: 503, code: 'server_error', name: 'APIError' });
    expect(proxy.to('/trpc/tasks.get').length - before).toBe(2);
  });

  it('create is retried with the same idempotency key: a lost answer does not create a second task', async () => {
    const other = await t.newTeam();
    const isCreate = (r: { path: string }) => r.path.startsWith('/trpc/tasks.create');
    const before = proxy.to('/trpc/tasks.create').length;
    proxy.fail({ match: isCreate, mode: 'after', times: 1 });
    const created = await viaProxy(other.apiKey).tasks.create(delayed(6));
    const sent = proxy.to('/trpc/tasks.create').slice(before);
    expect(sent).toHaveLength(2);
    const keys = sent.map((r) => JSON.parse(r.body).idempotencyKey);
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(keys[1]).toBe(keys[0]);
    const lost = JSON.parse(proxy.lostAnswers.at(-1) ?? '{}');
    expect(created.task.id).toBe(lost.result.data.task.id);
    const all = await new AsyncQueue({ apiKey: other.apiKey, baseUrl: t.url }).tasks.list();
    expect(all.tasks.map((x) => x.id)).toEqual([created.task.id]);
  });

  it('cancel is not retried', async () => {
    const { task } = await aq.tasks.create(delayed(7));
    const isCancel = (r: { path: string }) => r.path.startsWith('/trpc/tasks.cancel');
    proxy.fail({ match: isCancel, mode: 'before', times: 1 });
    const error = await rejection(viaProxy(team.apiKey).tasks.cancel(task.id));
    expect(error).toMatchObject({ status: 503 });
    expect(proxy.to('/trpc/tasks.cancel')).toHaveLength(1);
    expect((await aq.tasks.get(task.id)).status).toBe('delayed');
  });

  it('a 429 with Retry-After is retried after that many seconds', async () => {
    const { task } = await aq.tasks.create(delayed(8));
    proxy.fail({ match: isGet, mode: 'before', times: 1, status: 429, headers: { 'retry-after': '1' } });
    const started = Date.now();
    const read = await viaProxy(team.apiKey).tasks.get(task.id);
    expect(read.id).toBe(task.id);
    expect(Date.now() - started).toBeGreaterThanOrEqual(990);
  });

  it('connection refused → ConnectionError after 1 + maxRetries attempts', async () => {
    const port = await freePort();
    let calls = 0;
    const client = new AsyncQueue({
      apiKey: team.apiKey,
      baseUrl: `http://127.0.0.1:${port}`,
      maxRetries: 2,
      fetch: (input, init) => {
        calls += 1;
        return fetch(input, init);
      },
    });
    const error = await rejection(client.tasks.get('019d2b00-0000-7000-8000-000000000000'));
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error).toMatchObject({ code: 'connection_error', status: undefined });
    expect(calls).toBe(3);
  });

  it('an attempt that hangs times out as ConnectionError code timeout', async () => {
    const { task } = await aq.tasks.create(delayed(9));
    proxy.fail({ match: isGet, mode: 'hang', times: 1 });
    const error = await rejection(viaProxy(team.apiKey, { timeoutMs: 300, maxRetries: 0 }).tasks.get(task.id));
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error).toMatchObject({ code: 'timeout' });
  });
});

describe('webhooks.verify', () => {
  const sign = (secret: string, id: string, ts: number, body: string) =>
    `v1,${createHmac('sha256', Buffer.from(secret.slice(6), 'base64'))
      .update(`${id}.${ts}.${body}`)
      .digest('base64')}`;

  it('accepts a real delivery and rejects tampering, a wrong secret and an old timestamp', async () => {
    const receiver = await startRawWebhookReceiver();
    try {
      const { task } = await aq.tasks.create({ targetUrl: provider.url('/ok'), onCompleteUrl: receiver.url });
      const delivery = await waitFor('the completion webhook', () => receiver.deliveries[0], 45_000);
      const { rawBody, headers } = delivery;

      const event = AsyncQueue.webhooks.verify(rawBody, headers, team.webhookSecret);
      expect(event.event).toBe('task.completed');
      expect(event.task.id).toBe(task.id);
      expect(event.task.status).toBe('completed');
      expect(event.task.result?.statusCode).toBe(200);
      const asHeaders = new Headers(headers as Record<string, string>);
      expect(AsyncQueue.webhooks.verify(Buffer.from(rawBody), asHeaders, team.webhookSecret).task.id).toBe(task.id);
      const otherSecret = `whsec_${randomBytes(32).toString('base64')}`;
      expect(AsyncQueue.webhooks.verify(rawBody, headers, [otherSecret, team.webhookSecret]).task.id).toBe(task.id);

      const tampered = rawBody.replace('"completed"', '"failed"');
      expect(() => AsyncQueue.webhooks.verify(tampered, headers, team.webhookSecret)).toThrow(WebhookVerificationError);
      expect(() => AsyncQueue.webhooks.verify(rawBody, headers, otherSecret)).toThrow('No matching webhook signature');
      const { 'webhook-signature': _, ...unsigned } = headers;
      expect(() => AsyncQueue.webhooks.verify(rawBody, unsigned, team.webhookSecret)).toThrow(/Missing/);

      const sentAt = Number(headers['webhook-timestamp']);
      const later = (sentAt + 301) * 1000;
      expect(() => AsyncQueue.webhooks.verify(rawBody, headers, team.webhookSecret, { now: later })).toThrow(
        'Webhook timestamp is too old',
      );
      const oldTs = Math.floor(Date.now() / 1000) - 600;
      const id = String(headers['webhook-id']);
      const oldHeaders = {
        'webhook-id': id,
        'webhook-timestamp': String(oldTs),
        'webhook-signature': sign(team.webhookSecret, id, oldTs, rawBody),
      };
      const error = (() => {
        try {
          AsyncQueue.webhooks.verify(rawBody, oldHeaders, team.webhookSecret);
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(WebhookVerificationError);
      expect(error).toBeInstanceOf(AsyncQueueError);
      expect(error).toMatchObject({ code: 'webhook_verification_failed', message: 'Webhook timestamp is too old' });
    } finally {
      await receiver.stop();
    }
  });
});
