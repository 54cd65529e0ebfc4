import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api } from './helpers/http.ts';
import { countTasks, createTask, expectErrorBody, HEX_64 } from './helpers/tasks.ts';
import { startTestApp, type TestApp, type TestTeam } from './helpers/test-app.ts';

let t: TestApp;
let team: TestTeam;

/** A task with both credentials (callbackUrl and signalToken), delayed so no worker touches it. */
const request = () => ({
  targetUrl: 'https://example.com/start?cb={asyncqueue_callback_url}',
  headers: { 'X-A': '1', 'X-B': '2' },
  body: '{"prompt":"a cat"}',
  waitForSignal: true,
  priority: 7,
  delayUntil: '2999-01-01T00:00:00.000Z',
});

const post = (key: string, body: unknown, headers?: Record<string, string>) =>
  api(t.url, 'POST', '/v1/tasks', { key, body, ...(headers ? { headers } : {}) });

beforeAll(async () => {
  t = await startTestApp();
  team = await t.newTeam();
});
afterAll(() => t.stop());

describe('idempotency keys', () => {
  it('replays the original 201 body for the Idempotency-Key header', async () => {
    const key = randomUUID();
    const first = await createTask(t.url, team.apiKey, request(), { 'Idempotency-Key': key });
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(first.body.callbackUrl).toContain(first.body.task.callbackId);
    expect(first.body.signalToken).toMatch(HEX_64);
    const before = await countTasks(t.url, team.apiKey);
    for (let i = 0; i < 2; i += 1) {
      const again = await post(team.apiKey, request(), { 'Idempotency-Key': key });
      expect(again.status).toBe(200);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(again.body).toEqual(first.body);
    }
    expect(await countTasks(t.url, team.apiKey)).toBe(before);
  });

  it('replays for the idempotencyKey body field, and the field is not part of "the same request"', async () => {
    const key = randomUUID();
    const first = await createTask(t.url, team.apiKey, { ...request(), idempotencyKey: key });
    const before = await countTasks(t.url, team.apiKey);
    const again = await post(team.apiKey, { ...request(), idempotencyKey: key });
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    expect(again.body.task.id).toBe(first.body.task.id);
    expect(again.body.signalToken).toBe(first.body.signalToken);
    expect(again.body.callbackUrl).toBe(first.body.callbackUrl);
    const viaHeader = await post(team.apiKey, request(), { 'Idempotency-Key': key });
    expect(viaHeader.status).toBe(200);
    expect(viaHeader.body).toEqual(first.body);
    const both = await post(team.apiKey, { ...request(), idempotencyKey: key }, { 'Idempotency-Key': key });
    expect(both.status).toBe(200);
    expect(both.body.task.id).toBe(first.body.task.id);
    expect(await countTasks(t.url, team.apiKey)).toBe(before);
  });

  it('ignores the key order of the JSON body, nested objects included', async () => {
    const key = randomUUID();
    const first = await createTask(t.url, team.apiKey, request(), { 'Idempotency-Key': key });
    const { targetUrl, headers, body, waitForSignal, priority, delayUntil } = request();
    const reordered = {
      delayUntil,
      priority,
      waitForSignal,
      body,
      headers: { 'X-B': headers['X-B'], 'X-A': headers['X-A'] },
      targetUrl,
    };
    const again = await api(t.url, 'POST', '/v1/tasks', {
      key: team.apiKey,
      rawBody: JSON.stringify(reordered),
      headers: { 'content-type': 'application/json', 'Idempotency-Key': key },
    });
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
  });

  it('answers 409 idempotency_conflict for the same key with a different request', async () => {
    const key = randomUUID();
    const first = await createTask(t.url, team.apiKey, request(), { 'Idempotency-Key': key });
    const before = await countTasks(t.url, team.apiKey);
    for (const changed of [
      { ...request(), priority: 8 },
      { ...request(), body: '{"prompt":"a dog"}' },
      { ...request(), headers: { 'X-A': '1' } },
    ]) {
      const res = await post(team.apiKey, changed, { 'Idempotency-Key': key });
      expectErrorBody(res, 409, 'idempotency_conflict');
      expect(res.headers.get('idempotent-replayed')).toBeNull();
    }
    expect(await countTasks(t.url, team.apiKey)).toBe(before);
    const still = await post(team.apiKey, request(), { 'Idempotency-Key': key });
    expect(still.status).toBe(200);
    expect(still.body.task.id).toBe(first.body.task.id);
  });

  it("scopes keys to the team: another team's same key creates its own task", async () => {
    const key = randomUUID();
    const mine = await createTask(t.url, team.apiKey, request(), { 'Idempotency-Key': key });
    const other = await t.newTeam();
    const theirs = await post(other.apiKey, request(), { 'Idempotency-Key': key });
    expect(theirs.status).toBe(201);
    expect(theirs.headers.get('idempotent-replayed')).toBeNull();
    expect(theirs.body.task.id).not.toBe(mine.body.task.id);
    expect(theirs.body.signalToken).not.toBe(mine.body.signalToken);
    expect(await countTasks(t.url, other.apiKey)).toBe(1);
    const theirAgain = await post(other.apiKey, { ...request(), priority: 1 }, { 'Idempotency-Key': key });
    expectErrorBody(theirAgain, 409, 'idempotency_conflict');
  });

  it.each([1, 2, 3, 4, 5])('creates exactly one task for 10 concurrent POSTs with one key (trial %i)', async () => {
    const fresh = await t.newTeam();
    const key = randomUUID();
    const responses = await Promise.all(
      Array.from({ length: 10 }, () => post(fresh.apiKey, request(), { 'Idempotency-Key': key })),
    );
    const statuses = responses.map((r) => r.status);
    for (const status of statuses) expect([200, 201, 409]).toContain(status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    const winners = responses.filter((r) => r.status === 200 || r.status === 201);
    const created = responses.find((r) => r.status === 201);
    for (const r of winners) expect(r.body).toEqual(created?.body);
    for (const r of responses.filter((x) => x.status === 200)) {
      expect(r.headers.get('idempotent-replayed')).toBe('true');
    }
    for (const r of responses.filter((x) => x.status === 409)) expectErrorBody(r, 409);
    const list = await api(t.url, 'GET', '/v1/tasks', { key: fresh.apiKey });
    expect(list.body.tasks.map((x: { id: string }) => x.id)).toEqual([created?.body.task.id]);
  });
});
