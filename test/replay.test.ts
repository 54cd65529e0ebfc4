import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from './helpers/http.ts';
import { startRecordingServer } from './helpers/recording-server.ts';
import { waitForStatus } from './helpers/task-waits.ts';
import { CREATED_TASK_KEYS, expectErrorBody, HEX_64 } from './helpers/tasks.ts';
import { startTestApp, type TestApp, type TestTeam } from './helpers/test-app.ts';

// POST /v1/tasks/{id}/replay: a new task with the ended task's request, replayOf = its id, new
// credentials (the old callback URL stays dead), vault references kept as references.

let t: TestApp;
let team: TestTeam;
let db: pg.Client;
/** A fal-style provider: the first submit fails (500), later ones are accepted (it will call back). */
let provider: Awaited<ReturnType<typeof startRecordingServer>>;

const replay = (id: string, key = team.apiKey) => api(t.url, 'POST', `/v1/tasks/${id}/replay`, { key });

beforeAll(async () => {
  t = await startTestApp({ ASYNCQUEUE_RATE_LIMIT_PER_MINUTE: '100000' });
  team = await t.newTeam();
  db = new pg.Client({ connectionString: t.databaseUrl });
  await db.connect();
  provider = await startRecordingServer({
    answer: (req, n) =>
      req.path.includes('fail-first') && n === 1
        ? { status: 500, body: '{"detail":"overloaded"}' }
        : { status: 200, headers: { 'content-type': 'application/json' }, body: '{"request_id":"r1"}' },
  });
});
afterAll(async () => {
  await db.end();
  await provider.stop();
  await t.stop();
});

describe('POST /v1/tasks/{id}/replay', () => {
  it('replays a failed fal-style callback task: a new callback URL that works, the old one stays dead', async () => {
    const token = await api(t.url, 'POST', '/v1/tokens', {
      key: team.apiKey,
      body: { name: 'fal', value: 'Key fal-secret-value' },
    });
    expect(token.status, token.text).toBe(201);
    const tokenId = token.body.token.id as string;
    const created = await api(t.url, 'POST', '/v1/tasks', {
      key: team.apiKey,
      body: {
        targetUrl: provider.url('/fal-ai/flux/fail-first?fal_webhook={asyncqueue_callback_url}'),
        headers: { Authorization: tokenId },
        body: '{"prompt":"a cat"}',
        maxRetries: 0,
      },
    });
    expect(created.status, created.text).toBe(201);
    const original = created.body;
    const failed = await waitForStatus(t.url, team.apiKey, original.task.id, 'failed');
    expect(failed.attempts).toHaveLength(1);

    const res = await replay(original.task.id);
    expect(res.status, res.text).toBe(201);
    const copy = res.body;
    expect(Object.keys(copy.task).sort()).toEqual(CREATED_TASK_KEYS);
    expect(copy.task).toMatchObject({
      status: 'pending',
      replayOf: original.task.id,
      targetUrl: original.task.targetUrl,
      body: '{"prompt":"a cat"}',
      maxRetries: 0,
      attempts: [],
      result: null,
      error: null,
      retryCount: 0,
    });
    expect(copy.task.id).not.toBe(original.task.id);
    expect(copy.task.callbackId).toMatch(HEX_64);
    expect(copy.task.callbackId).not.toBe(original.task.callbackId);
    expect(copy.callbackUrl).toBe(`${t.url}/v1/callbacks/${copy.task.callbackId}`);

    // The stored request keeps the vault reference, never its value.
    const { rows } = await db.query('select headers, replay_of from tasks where id = $1', [copy.task.id]);
    expect(rows[0]).toEqual({ headers: { Authorization: tokenId }, replay_of: original.task.id });

    // Dispatched with the new callback URL and the resolved token; then it waits for the callback.
    await waitForStatus(t.url, team.apiKey, copy.task.id, 'waiting');
    const submits = provider.received.filter((r) => r.path.includes('fail-first'));
    expect(submits).toHaveLength(2);
    const sentCallback = new URL(`http://x${submits[1]?.path}`).searchParams.get('fal_webhook');
    expect(sentCallback).toBe(copy.callbackUrl);
    expect(submits[1]?.headers.authorization).toBe('Key fal-secret-value');

    const old = await api(original.callbackUrl, 'POST', '', { body: { status: 'OK', payload: { images: [] } } });
    expect([404, 409], old.text).toContain(old.status);
    const fresh = await api(copy.callbackUrl, 'POST', '', { body: { status: 'OK', payload: { images: [] } } });
    expect(fresh.status, fresh.text).toBe(200);
    const done = await waitForStatus(t.url, team.apiKey, copy.task.id, 'completed');
    expect(JSON.parse(done.result.body)).toEqual({ status: 'OK', payload: { images: [] } });
    expect((await api(t.url, 'GET', `/v1/tasks/${original.task.id}`, { key: team.apiKey })).body.task).toMatchObject({
      status: 'failed',
      replayOf: null,
    });
  });

  it('answers 409 for a task that has not ended, 404 for another team’s task', async () => {
    const created = await api(t.url, 'POST', '/v1/tasks', {
      key: team.apiKey,
      body: { targetUrl: provider.url('/later'), delayUntil: '2999-01-01T00:00:00.000Z' },
    });
    expect(created.status).toBe(201);
    const res = await replay(created.body.task.id);
    expectErrorBody(res, 409, 'conflict');
    expect(res.body.error).toContain('delayed');
    const other = await t.newTeam();
    expectErrorBody(await replay(created.body.task.id, other.apiKey), 404, 'not_found');
    expectErrorBody(await replay('not-a-uuid'), 400, 'validation_failed');
    const { rows } = await db.query('select count(*)::int as n from tasks where replay_of = $1', [
      created.body.task.id,
    ]);
    expect(rows[0].n).toBe(0);
  });

  it('gives a waitForSignal task a new signal token; a cancelled task may be replayed too', async () => {
    const created = await api(t.url, 'POST', '/v1/tasks', {
      key: team.apiKey,
      body: { targetUrl: provider.url('/signal'), waitForSignal: true, delayUntil: '2999-01-01T00:00:00.000Z' },
    });
    const cancelled = await api(t.url, 'POST', `/v1/tasks/${created.body.task.id}/cancel`, { key: team.apiKey });
    expect(cancelled.body.task.status).toBe('cancelled');
    const res = await replay(created.body.task.id);
    expect(res.status, res.text).toBe(201);
    expect(res.body.signalToken).toMatch(HEX_64);
    expect(res.body.signalToken).not.toBe(created.body.signalToken);
    expect(res.body.task).toMatchObject({ status: 'delayed', replayOf: created.body.task.id, callbackId: null });
    expect(res.body.callbackUrl).toBeUndefined();
  });
});
