import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from './helpers/http.ts';
import { type RawConnection, rawConnect, requestHead } from './helpers/raw-http.ts';
import { BASE_TASK, countTasks } from './helpers/tasks.ts';
import { startTestApp, type TestApp, type TestTeam } from './helpers/test-app.ts';

const LIMIT = 3;
/** Far longer than any answer takes; before the fix no answer came until the body was sent. */
const ANSWER_BOUND_MS = 10_000;
let t: TestApp;
let team: TestTeam;
const open: RawConnection[] = [];

beforeAll(async () => {
  t = await startTestApp({ ASYNCQUEUE_RATE_LIMIT_PER_MINUTE: String(LIMIT) });
  team = await t.newTeam();
});
afterAll(async () => {
  for (const connection of open) connection.close();
  await t.stop();
});

/** Sends only the head of a 1 MiB POST /v1/tasks and returns the answer that comes without the body. */
async function answerWithoutBody(headers: Record<string, string>, path = '/v1/tasks') {
  const connection = await rawConnect(t.url);
  open.push(connection);
  await connection.write(
    requestHead('POST', path, { 'Content-Type': 'application/json', 'Content-Length': 1024 * 1024, ...headers }),
  );
  await connection.write('{"targetUrl": "https://example.com/hook", "body": "');
  const res = await connection.response(ANSWER_BOUND_MS);
  if (res.kind !== 'response') throw new Error('the server closed the connection without an answer');
  // tRPC answers chunked: only its head is read here (raw-http reads Content-Length bodies).
  return { ...res, json: (res.body ? JSON.parse(res.body) : {}) as { error?: string; code?: string } };
}

describe('REST authenticates before it reads a body', () => {
  it('answers 401 "API key required" without waiting for the body, and closes the connection', async () => {
    const res = await answerWithoutBody({});
    expect(res.status).toBe(401);
    expect(res.json).toEqual({ error: 'API key required', code: 'unauthorized' });
    expect(res.headers.connection).toBe('close');
    expect(res.headers['x-ratelimit-limit']).toBeUndefined();
  });

  it('answers 401 on the tRPC transport too without waiting for the body', async () => {
    const res = await answerWithoutBody({}, '/trpc/tasks.create');
    expect(res.status).toBe(401);
  });

  it.each([
    ['malformed', 'not-a-key'],
    ['unknown', `async_${'B'.repeat(48)}`],
  ])('answers 401 for a %s key without waiting for the body', async (_name, key) => {
    const res = await answerWithoutBody({ Authorization: `Bearer ${key}` });
    expect(res.status).toBe(401);
    expect(res.json).toEqual({ error: 'Invalid or revoked API key', code: 'unauthorized' });
  });

  it('answers 415 for a non-JSON content type of an authenticated request without reading the body', async () => {
    const res = await answerWithoutBody({ Authorization: `Bearer ${team.apiKey}`, 'Content-Type': 'text/plain' });
    expect(res.status).toBe(415);
    expect(res.json.code).toBe('unsupported_media_type');
    expect(res.headers['x-ratelimit-limit']).toBe(String(LIMIT));
  });

  it('answers 429 with the rate-limit headers and Retry-After once the team is limited, without the body', async () => {
    const busy = await t.newTeam();
    for (let i = 0; i < LIMIT; i += 1) {
      expect((await api(t.url, 'GET', '/v1/tasks', { key: busy.apiKey })).status).toBe(200);
    }
    const res = await answerWithoutBody({ 'X-API-Key': busy.apiKey });
    expect(res.status).toBe(429);
    expect(res.json.code).toBe('rate_limited');
    expect(res.headers['x-ratelimit-limit']).toBe(String(LIMIT));
    expect(res.headers['x-ratelimit-remaining']).toBe('0');
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  });

  it('still creates with one rate-limit point per request (authenticated once, before and after the body)', async () => {
    const fresh = await t.newTeam();
    const created = await api(t.url, 'POST', '/v1/tasks', {
      key: fresh.apiKey,
      body: { ...BASE_TASK, delayUntil: new Date(Date.now() + 86_400_000).toISOString() },
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('x-ratelimit-remaining')).toBe(String(LIMIT - 1));
    expect(await countTasks(t.url, fresh.apiKey)).toBe(1);
  });
});
