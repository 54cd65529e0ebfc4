import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from './helpers/http.ts';
import { startTestApp, type TestApp, type TestTeam } from './helpers/test-app.ts';

let t: TestApp;
let team: TestTeam;
// Delayed a day: this file is about keys, not dispatch.
const delayUntil = new Date(Date.now() + 86_400_000).toISOString();

beforeAll(async () => {
  t = await startTestApp();
  team = await t.newTeam();
});
afterAll(() => t.stop());

describe('Idempotency-Key after 24 hours', () => {
  it('is free again: a different request with the same key creates a new task', async () => {
    const key = 'expiring-key';
    const send = (body: Record<string, unknown>) =>
      api(t.url, 'POST', '/v1/tasks', { key: team.apiKey, body, headers: { 'Idempotency-Key': key } });
    const first = await send({ targetUrl: 'https://example.com/a', delayUntil });
    expect(first.status).toBe(201);
    expect((await send({ targetUrl: 'https://example.com/b', delayUntil })).status).toBe(409);
    // Backdate instead of waiting a day.
    await t.app.orm.em
      .fork()
      .execute(`update idempotency_keys set created_at = now() - interval '25 hours' where key = ?`, [key]);
    const later = await send({ targetUrl: 'https://example.com/b', delayUntil });
    expect(later.status).toBe(201);
    expect(later.body.task.id).not.toBe(first.body.task.id);
    const replay = await send({ targetUrl: 'https://example.com/b', delayUntil });
    expect(replay.status).toBe(200);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body.task.id).toBe(later.body.task.id);
  });
});
