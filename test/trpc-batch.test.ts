import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from './helpers/http.ts';
import { startTestApp, type TestApp, type TestTeam } from './helpers/test-app.ts';

const LIMIT = 50;
let t: TestApp;
let team: TestTeam;

beforeAll(async () => {
  t = await startTestApp({ ASYNCQUEUE_RATE_LIMIT_PER_MINUTE: String(LIMIT) });
  team = await t.newTeam();
});
afterAll(() => t.stop());

/** Points spent in the per-IP budget of failed authentications (all client IPs). */
async function failedAuthentications(): Promise<number> {
  const rows = await t.app.orm.em
    .fork()
    .execute<{ n: number }[]>(`select coalesce(sum(points), 0)::int as n from rate_limits where key like 'authfail:%'`);
  return rows[0]?.n ?? 0;
}

/** A GET batch of `n` tasks.list calls: `/trpc/tasks.list,tasks.list,…?batch=1&input=…`. */
function batchPath(n: number): string {
  const names = Array.from({ length: n }, () => 'tasks.list').join(',');
  const input = Object.fromEntries(Array.from({ length: n }, (_, i) => [String(i), { limit: 1 }]));
  return `/trpc/${names}?batch=1&input=${encodeURIComponent(JSON.stringify(input))}`;
}

describe('tRPC batches', () => {
  it('refuses a batch naming more than 20 procedures with 400, before any key look-up or rate-limit point', async () => {
    const fresh = await t.newTeam();
    const res = await api(t.url, 'GET', batchPath(21), { key: fresh.apiKey });
    expect(res.status).toBe(400);
    expect(res.headers.get('x-ratelimit-remaining')).toBeNull();
    const after = await api(t.url, 'GET', '/v1/tasks', { key: fresh.apiKey });
    expect(after.headers.get('x-ratelimit-remaining')).toBe(String(LIMIT - 1));
  });

  it('refuses a batch of 1,400 procedures at once (400)', async () => {
    const res = await api(t.url, 'GET', batchPath(1_400).split('&input=')[0] as string, { key: team.apiKey });
    expect(res.status).toBe(400);
  });

  it('runs a batch of 20 and authenticates it once: one rate-limit point for the whole request', async () => {
    const fresh = await t.newTeam();
    const res = await api(t.url, 'GET', batchPath(20), { key: fresh.apiKey });
    expect(res.status).toBe(200);
    expect(res.body).toHaveLength(20);
    for (const item of res.body) expect(Array.isArray(item.result.data.tasks)).toBe(true);
    expect(res.headers.get('x-ratelimit-remaining')).toBe(String(LIMIT - 1));
  });

  it('answers 401 to every call of a batch without a key, and counts one failed authentication', async () => {
    const before = await failedAuthentications();
    const res = await api(t.url, 'GET', batchPath(3));
    expect(res.status).toBe(401);
    expect(await failedAuthentications()).toBe(before + 1);
    expect(res.body).toHaveLength(3);
    for (const item of res.body)
      expect(item.error.data.aq).toEqual({ error: 'API key required', code: 'unauthorized' });
  });
});
