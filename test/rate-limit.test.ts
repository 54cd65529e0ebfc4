import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeProvider, startFakeProvider } from './helpers/fake-provider.ts';
import { type ApiResponse, api } from './helpers/http.ts';
import { waitForStatus } from './helpers/task-waits.ts';
import { expectErrorBody } from './helpers/tasks.ts';
import { startTestApp, type TestApp } from './helpers/test-app.ts';

const LIMIT = 5;
const CALLBACK_LIMIT = 3;
let t: TestApp;
let provider: FakeProvider;

beforeAll(async () => {
  provider = await startFakeProvider();
  t = await startTestApp({
    ASYNCQUEUE_RATE_LIMIT_PER_MINUTE: String(LIMIT),
    ASYNCQUEUE_CALLBACK_RATE_LIMIT_PER_MINUTE: String(CALLBACK_LIMIT),
    ASYNCQUEUE_ALLOWED_CIDRS: '127.0.0.1/32',
  });
});
afterAll(async () => {
  await t.stop();
  await provider.stop();
});

const list = (key?: string) => api(t.url, 'GET', '/v1/tasks', key ? { key } : {});
const remaining = (res: ApiResponse) => Number(res.headers.get('x-ratelimit-remaining'));

function expectRateHeaders(res: ApiResponse): void {
  expect(res.headers.get('x-ratelimit-limit')).toBe(String(LIMIT));
  expect(res.headers.get('x-ratelimit-remaining')).toMatch(/^\d+$/);
  const reset = res.headers.get('x-ratelimit-reset') ?? '';
  expect(reset).toMatch(/^\d+$/);
  const now = Date.now() / 1000;
  expect(Number(reset)).toBeGreaterThan(now - 1);
  expect(Number(reset)).toBeLessThanOrEqual(Math.ceil(now) + 61);
}

describe('per-team rate limit', () => {
  it('counts down 4..0, then answers 429 with Retry-After and the rate-limit headers', async () => {
    const team = await t.newTeam();
    const seen: number[] = [];
    for (let i = 0; i < LIMIT; i += 1) {
      const res = await list(team.apiKey);
      expect(res.status).toBe(200);
      expectRateHeaders(res);
      seen.push(remaining(res));
    }
    expect(seen).toEqual([4, 3, 2, 1, 0]);

    const limited = await list(team.apiKey);
    expectErrorBody(limited, 429, 'rate_limited');
    expect(limited.body.details).toBeUndefined();
    expectRateHeaders(limited);
    expect(remaining(limited)).toBe(0);
    const retryAfter = limited.headers.get('retry-after') ?? '';
    expect(retryAfter).toMatch(/^\d+$/);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(retryAfter)).toBeLessThanOrEqual(60);
    const reset = Number(limited.headers.get('x-ratelimit-reset'));
    expect(Math.abs(reset - (Date.now() / 1000 + Number(retryAfter)))).toBeLessThanOrEqual(2);

    const create = await api(t.url, 'POST', '/v1/tasks', {
      key: team.apiKey,
      body: { targetUrl: 'https://example.com/hook', body: '{}' },
    });
    expectErrorBody(create, 429, 'rate_limited');
    expect(create.headers.get('retry-after')).toMatch(/^\d+$/);
  });

  it('does not affect another team', async () => {
    const busy = await t.newTeam();
    const calm = await t.newTeam();
    for (let i = 0; i < LIMIT; i += 1) expect((await list(busy.apiKey)).status).toBe(200);
    expect((await list(busy.apiKey)).status).toBe(429);
    const res = await list(calm.apiKey);
    expect(res.status).toBe(200);
    expect(remaining(res)).toBe(LIMIT - 1);
  });

  it('does not count unauthenticated requests', async () => {
    const team = await t.newTeam();
    const first = await list(team.apiKey);
    expect(remaining(first)).toBe(4);
    const anonymous = async () => {
      for (const key of [undefined, `async_${'Z'.repeat(48)}`, 'not-a-key']) {
        const res = await list(key);
        expect(res.status).toBe(401);
        expect(res.headers.get('x-ratelimit-remaining')).toBeNull();
      }
    };
    for (let i = 0; i < 3; i += 1) await anonymous();
    const second = await list(team.apiKey);
    expect(remaining(second)).toBe(3);
    for (let i = 0; i < 3; i += 1) await anonymous();
    const third = await list(team.apiKey);
    expect(remaining(third)).toBe(2);
  });

  it('lets exactly 5 of 20 concurrent requests through', async () => {
    const team = await t.newTeam();
    const responses = await Promise.all(Array.from({ length: 20 }, () => list(team.apiKey)));
    const ok = responses.filter((r) => r.status === 200);
    const limited = responses.filter((r) => r.status === 429);
    expect(ok).toHaveLength(LIMIT);
    expect(limited).toHaveLength(20 - LIMIT);
    expect(ok.map(remaining).sort()).toEqual([0, 1, 2, 3, 4]);
    for (const res of limited) {
      expectErrorBody(res, 429, 'rate_limited');
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(remaining(res)).toBe(0);
    }
  });

  it('shares one budget between REST and the tRPC transport', async () => {
    const team = await t.newTeam();
    const input = encodeURIComponent(JSON.stringify({ limit: 1 }));
    const trpc = () => api(t.url, 'GET', `/trpc/tasks.list?input=${input}`, { key: team.apiKey });
    for (let i = 0; i < 3; i += 1) expect((await list(team.apiKey)).status).toBe(200);
    const a = await trpc();
    expect(a.status).toBe(200);
    expect(remaining(a)).toBe(1);
    expect((await trpc()).status).toBe(200);
    const limited = await trpc();
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(limited.headers.get('x-ratelimit-limit')).toBe(String(LIMIT));
  });

  it('limits signals per client IP (checked while the token is looked up): 429 changes nothing', async () => {
    const team = await t.newTeam();
    const created = await api(t.url, 'POST', '/v1/tasks', {
      key: team.apiKey,
      body: { targetUrl: provider.url('/ok'), waitForSignal: true },
    });
    expect(created.status).toBe(201);
    const id = created.body.task.id as string;
    await waitForStatus(t.url, team.apiKey, id, 'waiting');
    const unknown = 'f'.repeat(64);
    for (let i = 0; i < CALLBACK_LIMIT; i += 1) {
      expect((await api(t.url, 'POST', `/v1/signals/${unknown}`, { body: { status: 'completed' } })).status).toBe(404);
    }
    const limited = await api(t.url, 'POST', `/v1/signals/${created.body.signalToken}`, {
      body: { status: 'completed', result: { late: true } },
    });
    expectErrorBody(limited, 429, 'rate_limited');
    expect(limited.headers.get('retry-after')).toMatch(/^\d+$/);
    const after = await api(t.url, 'GET', `/v1/tasks/${id}`, { key: team.apiKey });
    expect(after.body.task.status).toBe('waiting');
    expect(after.body.task.result).toBeNull();
  });
});
