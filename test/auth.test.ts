import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { revokeApiKey } from '../server/src/auth/teams.ts';
import { api } from './helpers/http.ts';
import { startTestApp, type TestApp, type TestTeam } from './helpers/test-app.ts';

let t: TestApp;
let team: TestTeam;
// Delayed a day: these tests are about visibility, not dispatch.
const task = {
  targetUrl: 'https://example.com/hook',
  body: '{}',
  delayUntil: new Date(Date.now() + 86_400_000).toISOString(),
};

beforeAll(async () => {
  t = await startTestApp();
  team = await t.newTeam();
});
afterAll(() => t.stop());

describe('authentication', () => {
  it('answers 401 "API key required" without a key', async () => {
    const res = await api(t.url, 'GET', '/v1/tasks');
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'API key required', code: 'unauthorized' });
    expect(res.headers.get('x-ratelimit-limit')).toBeNull();
  });

  it.each([
    ['malformed', 'not-a-key'],
    ['unknown', `async_${'A'.repeat(48)}`],
    ['wrong length', `async_${'A'.repeat(47)}`],
  ])('answers 401 "Invalid or revoked API key" for a %s key', async (_name, key) => {
    const res = await api(t.url, 'GET', '/v1/tasks', { key });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('Invalid or revoked API key');
  });

  it('accepts both Authorization: Bearer and X-API-Key, with rate-limit headers', async () => {
    const bearer = await api(t.url, 'GET', '/v1/tasks', { key: team.apiKey });
    const header = await api(t.url, 'GET', '/v1/tasks', { headers: { 'x-api-key': team.apiKey } });
    expect(bearer.status).toBe(200);
    expect(header.status).toBe(200);
    for (const res of [bearer, header]) {
      expect(Number(res.headers.get('x-ratelimit-limit'))).toBe(600);
      expect(Number(res.headers.get('x-ratelimit-remaining'))).toBeLessThan(600);
      expect(Number(res.headers.get('x-ratelimit-reset'))).toBeGreaterThan(Date.now() / 1000);
    }
  });

  it('rejects a revoked key on the very next request', async () => {
    const other = await t.newTeam();
    expect((await api(t.url, 'GET', '/v1/tasks', { key: other.apiKey })).status).toBe(200);
    const keyId = (
      await t.app.orm.em.fork().execute<{ id: string }[]>('select id from api_keys where team_id = ?', [other.teamId])
    )[0]!.id;
    await revokeApiKey(t.app.orm.em.fork(), keyId);
    const res = await api(t.url, 'GET', '/v1/tasks', { key: other.apiKey });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('Invalid or revoked API key');
  });

  it('refuses a key seen valid a moment ago on the request right after its revocation: 20 trials, also when revoked by hand in SQL', async () => {
    // Each key is used (and so cached) right before it is revoked; the very next request must fail.
    for (let trial = 0; trial < 20; trial += 1) {
      const team = await t.newTeam();
      for (let i = 0; i < 2; i += 1)
        expect((await api(t.url, 'GET', '/v1/tasks', { key: team.apiKey })).status).toBe(200);
      const em = t.app.orm.em.fork();
      if (trial % 2 === 0) {
        const keyId = (
          await em.execute<{ id: string }[]>('select id from api_keys where team_id = ?', [team.teamId])
        )[0]!.id;
        await revokeApiKey(em, keyId);
      } else {
        await em.execute('update api_keys set revoked_at = now() where team_id = ?', [team.teamId]);
      }
      const res = await api(t.url, 'GET', '/v1/tasks', { key: team.apiKey });
      expect(res.status, `trial ${trial}`).toBe(401);
    }
  });

  it("hides another team's task: 404 on get and cancel, absent from list", async () => {
    const owner = await t.newTeam();
    const stranger = await t.newTeam();
    const created = await api(t.url, 'POST', '/v1/tasks', { key: owner.apiKey, body: task });
    expect(created.status).toBe(201);
    const id = created.body.task.id;
    const get = await api(t.url, 'GET', `/v1/tasks/${id}`, { key: stranger.apiKey });
    expect(get.status).toBe(404);
    expect(get.body.code).toBe('not_found');
    const cancel = await api(t.url, 'POST', `/v1/tasks/${id}/cancel`, { key: stranger.apiKey });
    expect(cancel.status).toBe(404);
    const list = await api(t.url, 'GET', '/v1/tasks', { key: stranger.apiKey });
    expect(list.body.tasks).toEqual([]);
    const still = await api(t.url, 'GET', `/v1/tasks/${id}`, { key: owner.apiKey });
    expect(still.body.task.status).toBe('delayed');
  });

  it('authenticates the tRPC transport the same way', async () => {
    const input = encodeURIComponent(JSON.stringify({ limit: 1 }));
    const none = await fetch(`${t.url}/trpc/tasks.list?input=${input}`);
    expect(none.status).toBe(401);
    const ok = await fetch(`${t.url}/trpc/tasks.list?input=${input}`, {
      headers: { authorization: `Bearer ${team.apiKey}` },
    });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('x-ratelimit-limit')).toBe('600');
    const body = (await ok.json()) as { result: { data: { tasks: unknown[] } } };
    expect(Array.isArray(body.result.data.tasks)).toBe(true);
  });
});
