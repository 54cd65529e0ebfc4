import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, revokeApiKey } from '../server/src/auth/teams.ts';
import { type ApiResponse, api } from './helpers/http.ts';
import { expectErrorBody } from './helpers/tasks.ts';
import { startTestApp, type TestApp } from './helpers/test-app.ts';

/** The defaults: 600 requests a minute per team, 60 failed authentications a minute per client IP. */
const TEAM_LIMIT = 600;
const FAILURE_LIMIT = 60;
let t: TestApp;

beforeAll(async () => {
  // One trusted proxy hop: each test speaks from its own client IP (X-Forwarded-For).
  t = await startTestApp({ TRUST_PROXY: '1' });
});
afterAll(() => t.stop());

const list = (key: string, ip: string) => api(t.url, 'GET', '/v1/tasks', { key, headers: { 'x-forwarded-for': ip } });

/** Sends `count` requests, `concurrency` at a time, and returns every response. */
async function burst(count: number, concurrency: number, send: (i: number) => Promise<ApiResponse>) {
  const responses: ApiResponse[] = [];
  for (let start = 0; start < count; start += concurrency) {
    const wave = Array.from({ length: Math.min(concurrency, count - start) }, (_, j) => send(start + j));
    responses.push(...(await Promise.all(wave)));
  }
  return responses;
}

describe('rate limits charge the right party', () => {
  it('a revoked key that was seen valid never spends its team’s budget: 700 requests, the team’s other key still gets 2xx', async () => {
    const team = await t.newTeam();
    const other = await createApiKey(t.app.orm.em.fork(), team.teamId, 'second');
    // Seen valid (the server now knows its team), then revoked.
    expect((await list(team.apiKey, '198.51.100.7')).status).toBe(200);
    const keyId = (
      await t.app.orm.em
        .fork()
        .execute<{ id: string }[]>('select id from api_keys where team_id = ? and name = ?', [team.teamId, 'test'])
    )[0]!.id;
    await revokeApiKey(t.app.orm.em.fork(), keyId);

    const refused = await burst(700, 20, () => list(team.apiKey, '198.51.100.7'));
    for (const res of refused) expect([401, 429]).toContain(res.status);
    expect(refused.every((res) => res.headers.get('x-ratelimit-remaining') === null)).toBe(true);

    const ok = await list(other.apiKey, '198.51.100.7');
    expect(ok.status).toBe(200);
    // Exactly two points spent: the revoked key's one valid request, and this one.
    expect(Number(ok.headers.get('x-ratelimit-remaining'))).toBe(TEAM_LIMIT - 2);
  });

  it('a stranger sending 1,000 bad keys gets 429s per client IP, and nobody else is affected', async () => {
    const team = await t.newTeam();
    const badKey = (i: number) => `async_${String(i).padStart(48, 'Q')}`;
    const responses = await burst(1_000, 25, (i) => list(badKey(i), '203.0.113.66'));
    const unauthorized = responses.filter((res) => res.status === 401);
    const limited = responses.filter((res) => res.status === 429);
    expect(unauthorized.length + limited.length).toBe(1_000);
    expect(unauthorized).toHaveLength(FAILURE_LIMIT);
    for (const res of unauthorized) expect(res.body.error).toBe('Invalid or revoked API key');
    for (const res of limited) {
      expectErrorBody(res, 429, 'rate_limited');
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(Number(res.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    }
    // The stranger's IP is limited for failures only: a valid key from it still works…
    const fromSameIp = await list(team.apiKey, '203.0.113.66');
    expect(fromSameIp.status).toBe(200);
    expect(Number(fromSameIp.headers.get('x-ratelimit-remaining'))).toBe(TEAM_LIMIT - 1);
    // …and another client's bad key is still told 401, not 429.
    const elsewhere = await list(badKey(1), '203.0.113.67');
    expect(elsewhere.status).toBe(401);
    expect(elsewhere.body.error).toBe('Invalid or revoked API key');
  });

  it('counts missing and malformed keys as failed authentications too', async () => {
    const ip = '192.0.2.44';
    const responses = await burst(FAILURE_LIMIT + 5, 10, (i) =>
      i % 2 === 0 ? api(t.url, 'GET', '/v1/tasks', { headers: { 'x-forwarded-for': ip } }) : list('not-a-key', ip),
    );
    expect(responses.filter((res) => res.status === 401)).toHaveLength(FAILURE_LIMIT);
    expect(responses.filter((res) => res.status === 429)).toHaveLength(5);
  });
});
