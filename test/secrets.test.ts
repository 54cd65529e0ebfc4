import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from './helpers/http.ts';
import { createTask, HEX_64 } from './helpers/tasks.ts';
import { startTestApp, type TestApp, type TestTeam } from './helpers/test-app.ts';

/** Header → the value sent, and what every read must show instead (its first 4 characters, then ****). */
const AUTHORIZATION = 'Bearer sk-live-SECRET1234567890';
const SECRET_HEADERS: Record<string, [sent: string, shown: string]> = {
  Authorization: [AUTHORIZATION, 'Bear****'],
  'xi-api-key': ['xi-SECRETVALUE', 'xi-S****'],
  'X-Api-Key': ['ak-SECRETAPIKEY42', 'ak-S****'],
  Cookie: ['session=SECRETCOOKIE99', 'sess****'],
  'X-Custom-Token': ['ct-SECRETTOKEN77', 'ct-S****'],
  'X-Client-Secret': ['cs-SECRETCLIENT55', 'cs-S****'],
};
const SENT_HEADERS = {
  ...Object.fromEntries(Object.entries(SECRET_HEADERS).map(([name, [sent]]) => [name, sent])),
  'X-Trace': 'visible',
};
const SHOWN_HEADERS = {
  ...Object.fromEntries(Object.entries(SECRET_HEADERS).map(([name, [, shown]]) => [name, shown])),
  'X-Trace': 'visible',
};
/** Everything after the 4 visible characters: must never be readable anywhere. */
const SECRET_TAILS = Object.values(SECRET_HEADERS).map(([sent]) => sent.slice(4));

const DAY_AHEAD = new Date(Date.now() + 86_400_000).toISOString();
const task = () => ({
  targetUrl: 'https://example.com/start?cb={asyncqueue_callback_url}',
  headers: SENT_HEADERS,
  body: '{"prompt":"a cat"}',
  waitForSignal: true,
  // Delayed: these tests read, cancel and log tasks; a dispatch in flight would make cancel answer 200 twice.
  delayUntil: DAY_AHEAD,
});

let t: TestApp;
let team: TestTeam;
/** Credentials handed out during the file: none may ever be logged. */
const credentials: string[] = [];
const wrongKey = `async_${'Q'.repeat(48)}`;

function expectNoSecrets(text: string, extra: string[] = []): void {
  for (const secret of [...SECRET_TAILS, ...extra]) expect(text).not.toContain(secret);
}

async function createSecretTask(headers?: Record<string, string>) {
  const res = await createTask(t.url, team.apiKey, task(), headers);
  expect(res.body.task.callbackId).toMatch(HEX_64);
  expect(res.body.signalToken).toMatch(HEX_64);
  credentials.push(res.body.task.callbackId, res.body.signalToken);
  return res;
}

beforeAll(async () => {
  t = await startTestApp();
  team = await t.newTeam();
});
afterAll(() => t.stop());

describe('secret header values', () => {
  it('are masked to their first 4 characters in the 201 body', async () => {
    const res = await createSecretTask();
    expect(res.body.task.headers).toEqual(SHOWN_HEADERS);
    expectNoSecrets(JSON.stringify(res.body.task));
  });

  it('are masked in GET, which never shows callbackId or signalToken', async () => {
    const created = await createSecretTask();
    const { callbackId } = created.body.task;
    const res = await api(t.url, 'GET', `/v1/tasks/${created.body.task.id}`, { key: team.apiKey });
    expect(res.status).toBe(200);
    expect(res.body.task.headers).toEqual(SHOWN_HEADERS);
    expect(res.body.task).not.toHaveProperty('callbackId');
    expect(res.body.task).not.toHaveProperty('signalToken');
    expect(res.body).not.toHaveProperty('signalToken');
    expect(res.body.task.hasCallback).toBe(true);
    expectNoSecrets(res.text, [callbackId, created.body.signalToken]);
  });

  it('are masked in the list, which never shows callbackId or signalToken', async () => {
    const created = await createSecretTask();
    const res = await api(t.url, 'GET', '/v1/tasks?limit=100', { key: team.apiKey });
    expect(res.status).toBe(200);
    const listed = res.body.tasks.find((x: { id: string }) => x.id === created.body.task.id);
    expect(listed.headers).toEqual(SHOWN_HEADERS);
    for (const item of res.body.tasks) {
      expect(item).not.toHaveProperty('callbackId');
      expect(item).not.toHaveProperty('signalToken');
    }
    expectNoSecrets(res.text, credentials);
  });

  it('are masked in an idempotent replay', async () => {
    const key = randomUUID();
    const first = await createSecretTask({ 'Idempotency-Key': key });
    const again = await api(t.url, 'POST', '/v1/tasks', {
      key: team.apiKey,
      body: task(),
      headers: { 'Idempotency-Key': key },
    });
    expect(again.status).toBe(200);
    expect(again.body.task.headers).toEqual(SHOWN_HEADERS);
    expect(again.body.task.id).toBe(first.body.task.id);
    expectNoSecrets(JSON.stringify(again.body.task));
  });

  it('are masked whatever the case of the header name', async () => {
    const res = await createTask(t.url, team.apiKey, {
      targetUrl: 'https://example.com/x',
      headers: { AUTHORIZATION, 'x-session-token': 'st-SECRETSESSION' },
    });
    expect(res.body.task.headers).toEqual({ AUTHORIZATION: 'Bear****', 'x-session-token': 'st-S****' });
  });

  it('are not echoed by error responses', async () => {
    const crlf = await api(t.url, 'POST', '/v1/tasks', {
      key: team.apiKey,
      body: { ...task(), headers: { ...SENT_HEADERS, Authorization: `${AUTHORIZATION}\r\nX: 1` } },
    });
    expect(crlf.status).toBe(400);
    expectNoSecrets(crlf.text);
    const unknown = await api(t.url, 'POST', '/v1/tasks', { key: team.apiKey, body: { ...task(), extra: 1 } });
    expect(unknown.status).toBe(400);
    expectNoSecrets(unknown.text);
    const conflictKey = randomUUID();
    await createSecretTask({ 'Idempotency-Key': conflictKey });
    const conflict = await api(t.url, 'POST', '/v1/tasks', {
      key: team.apiKey,
      body: { ...task(), priority: 9 },
      headers: { 'Idempotency-Key': conflictKey },
    });
    expect(conflict.status).toBe(409);
    expectNoSecrets(conflict.text, credentials);
  });
});

describe('logs', () => {
  it('get traffic of every kind: tasks, errors, credentials in URLs, the tRPC transport', async () => {
    const created = await createSecretTask();
    const id = created.body.task.id;
    expect((await api(t.url, 'GET', `/v1/tasks/${id}`, { key: team.apiKey })).status).toBe(200);
    expect((await api(t.url, 'POST', `/v1/tasks/${id}/cancel`, { key: team.apiKey })).status).toBe(200);
    expect((await api(t.url, 'POST', `/v1/tasks/${id}/cancel`, { key: team.apiKey })).status).toBe(409);
    expect((await api(t.url, 'GET', `/v1/tasks/${randomUUID()}`, { key: team.apiKey })).status).toBe(404);
    expect((await api(t.url, 'GET', '/v1/tasks', { key: wrongKey })).status).toBe(401);
    expect((await api(t.url, 'GET', '/v1/tasks', { headers: { 'x-api-key': wrongKey } })).status).toBe(401);
    const badJson = await api(t.url, 'POST', '/v1/tasks', {
      key: team.apiKey,
      rawBody: `{"headers": {"Authorization": "${AUTHORIZATION}"`,
      headers: { 'content-type': 'application/json' },
    });
    expect(badJson.status).toBe(400);
    const trpc = await api(t.url, 'POST', '/trpc/tasks.create', { key: team.apiKey, body: task() });
    expect(trpc.status).toBe(201);
    credentials.push(trpc.body.result.data.task.callbackId, trpc.body.result.data.signalToken);
    const trpcBad = await api(t.url, 'POST', '/trpc/tasks.create', {
      key: team.apiKey,
      body: { ...task(), timeout: 0 },
    });
    expect(trpcBad.status).toBe(400);
    // The credentials in URL paths (whatever these routes answer, they must not log the ids).
    for (const path of [`/v1/callbacks/${credentials[0]}`, `/v1/signals/${credentials[1]}`]) {
      const res = await api(t.url, 'POST', path, { body: { status: 'completed' } });
      expect(res.status).toBeLessThan(500);
    }
  });

  it('never contain a secret header value, the API key, a callbackId or a signalToken', () => {
    const text = t.logs.text();
    expect(t.logs.lines.length).toBeGreaterThan(10);
    expect(text).toContain('"request"');
    expect(credentials.length).toBeGreaterThanOrEqual(14);
    for (const credential of credentials) expect(credential).toMatch(HEX_64);
    expectNoSecrets(text, [team.apiKey, team.apiKey.slice(12), wrongKey, wrongKey.slice(12), ...credentials]);
  });
});
