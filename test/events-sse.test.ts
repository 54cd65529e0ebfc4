import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signIn } from './helpers/dashboard-session.ts';
import { api } from './helpers/http.ts';
import { openSse, type SseConnection } from './helpers/sse-client.ts';
import { delayedTask } from './helpers/tasks.ts';
import { startTestApp, type TestApp, type TestTeam } from './helpers/test-app.ts';
import { waitFor } from './helpers/wait-for.ts';

// GET /v1/events: authentication before streaming, the event format (list shape), filters, team
// isolation, heartbeats (1 s through the environment) and the caps on open streams.

let t: TestApp;
let team: TestTeam;
let other: TestTeam;
const open: SseConnection[] = [];

beforeAll(async () => {
  t = await startTestApp({
    ASYNCQUEUE_RATE_LIMIT_PER_MINUTE: '100000',
    ASYNCQUEUE_EVENTS_HEARTBEAT_SECONDS: '1',
    // Shorter than the heartbeat test's stream: the request timeout bounds receiving the request, not the stream.
    ASYNCQUEUE_HTTP_REQUEST_TIMEOUT_SECONDS: '2',
    ASYNCQUEUE_HTTP_HEADERS_TIMEOUT_SECONDS: '2',
    LOG_LEVEL: 'info',
  });
  team = await t.newTeam();
  other = await t.newTeam();
});
afterAll(async () => {
  for (const c of open) c.close();
  await t?.stop();
});

const subscribe = async (key: string, query = '', headers: Record<string, string> = {}) => {
  const conn = await openSse(t.url, `/v1/events${query}`, { key, headers });
  open.push(conn);
  return conn;
};

const createDelayed = async (key: string, n = 0, extra: Record<string, unknown> = {}) => {
  const res = await api(t.url, 'POST', '/v1/tasks', { key, body: { ...delayedTask(n), ...extra } });
  expect(res.status, res.text).toBe(201);
  return res.body.task as { id: string; status: string };
};

const cancel = async (key: string, id: string) => {
  const res = await api(t.url, 'POST', `/v1/tasks/${id}/cancel`, { key });
  expect(res.status, res.text).toBe(200);
};

describe('GET /v1/events', () => {
  it('answers 401 as JSON, before any stream, for a missing or a wrong key', async () => {
    const missing = await openSse(t.url, '/v1/events');
    expect(missing.status).toBe(401);
    expect(String(missing.headers['content-type'])).toContain('application/json');
    expect(missing.errorBody).toMatchObject({ code: 'unauthorized', error: 'API key required' });
    const wrong = await openSse(t.url, '/v1/events', { key: `async_${'A1b2C3d4E5'.repeat(4)}Zz9Yy8Xx` });
    expect(wrong.status).toBe(401);
    expect(wrong.errorBody.code).toBe('unauthorized');
    expect(wrong.events).toEqual([]);
  });

  it('accepts the dashboard’s session cookie as it accepts a key', async () => {
    const session = await signIn(t.url, team.apiKey);
    const conn = await subscribe('', '', { cookie: session.cookie });
    expect(conn.status).toBe(200);
    const task = await createDelayed(team.apiKey, 30);
    await conn.waitForEvent('the team’s change', (e) => e.data.task.id === task.id);
  });

  it('answers 400 naming the field for a bad filter or Last-Event-ID', async () => {
    const badStatus = await openSse(t.url, '/v1/events?status=done', { key: team.apiKey });
    expect(badStatus.status).toBe(400);
    expect(badStatus.errorBody.details[0].path).toBe('status');
    const badId = await openSse(t.url, '/v1/events?taskId=nope', { key: team.apiKey });
    expect(badId.status).toBe(400);
    expect(badId.errorBody.details[0].path).toBe('taskId');
    const badCursor = await openSse(t.url, '/v1/events', { key: team.apiKey, headers: { 'last-event-id': 'x1' } });
    expect(badCursor.status).toBe(400);
    expect(badCursor.errorBody.details[0].path).toBe('Last-Event-ID');
  });

  it('streams a team’s task changes as task.updated events in the list shape', async () => {
    const conn = await subscribe(team.apiKey);
    expect(conn.status).toBe(200);
    expect(conn.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(conn.headers['cache-control']).toBe('no-store');
    const longBody = JSON.stringify({ prompt: 'x'.repeat(5_000) });
    const task = await createDelayed(team.apiKey, 1, { body: longBody });
    const created = await conn.waitForEvent('the created task', (e) => e.data.task?.id === task.id);
    expect(created.event).toBe('task.updated');
    expect(created.id).toMatch(/^\d{16}$/);
    expect(created.data.task.status).toBe('delayed');
    // The list shape: payloads capped at 1,024 characters, as GET /v1/tasks shows them.
    expect(created.data.task.body).toHaveLength(1_024);
    await cancel(team.apiKey, task.id);
    const cancelled = await conn.waitForEvent('the cancel', (e) => e.data.task?.status === 'cancelled');
    expect(cancelled.data.task.id).toBe(task.id);
    expect(BigInt(cancelled.id as string)).toBeGreaterThan(BigInt(created.id as string));
    expect(cancelled.data.task.updatedAt >= created.data.task.updatedAt).toBe(true);
  });

  it('filters by taskId and by status', async () => {
    const [a, b] = [await createDelayed(team.apiKey, 2), await createDelayed(team.apiKey, 3)];
    const onlyA = await subscribe(team.apiKey, `?taskId=${a.id}`);
    const onlyCancelled = await subscribe(team.apiKey, '?status=cancelled');
    const everything = await subscribe(team.apiKey);
    const fresh = await createDelayed(team.apiKey, 4);
    await cancel(team.apiKey, b.id);
    await cancel(team.apiKey, a.id);
    // The unfiltered stream saw all three changes; by then the filtered ones were handed theirs.
    await everything.waitForEvent('a cancelled', (e) => e.data.task.id === a.id && e.data.task.status === 'cancelled');
    await everything.waitForEvent('b cancelled', (e) => e.data.task.id === b.id);
    await everything.waitForEvent('fresh created', (e) => e.data.task.id === fresh.id);
    await onlyA.waitForEvent('a on its own stream', (e) => e.data.task.id === a.id);
    await onlyCancelled.waitForEvent('b cancelled on the status stream', (e) => e.data.task.id === b.id);
    await onlyCancelled.waitForEvent('a cancelled on the status stream', (e) => e.data.task.id === a.id);
    expect(onlyA.events.every((e) => e.data.task.id === a.id)).toBe(true);
    expect(onlyCancelled.events.every((e) => e.data.task.status === 'cancelled')).toBe(true);
    expect(onlyCancelled.events.some((e) => e.data.task.id === fresh.id)).toBe(false);
  });

  it('never sends another team’s changes', async () => {
    const mine = await subscribe(other.apiKey);
    const theirs: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      const task = await createDelayed(team.apiKey, 10 + i);
      theirs.push(task.id);
      await cancel(team.apiKey, task.id);
    }
    // A change of the subscriber's own team, made last, is the fence: once it arrived, the other
    // team's changes (made before it) would have arrived too.
    const own = await createDelayed(other.apiKey, 20);
    await mine.waitForEvent('own change', (e) => e.data.task.id === own.id);
    expect(mine.events.length).toBeGreaterThan(0);
    expect(mine.events.some((e) => theirs.includes(e.data.task.id))).toBe(false);
  });

  it('writes a heartbeat comment every interval (1 s here) on a quiet stream, past the request timeout', async () => {
    const conn = await subscribe(team.apiKey, `?taskId=${crypto.randomUUID()}`);
    await waitFor('four heartbeats', () => conn.comments.filter((c) => c.text === 'keep-alive').length >= 4, 10_000);
    expect(conn.ended()).toBe(false);
    const beats = conn.comments.filter((c) => c.text === 'keep-alive');
    expect(beats.length).toBeGreaterThanOrEqual(3);
    const gaps = beats.slice(1).map((b, i) => b.at - (beats[i] as { at: number }).at);
    // The timer fires every 1,000 ms; a loaded machine delays a tick, never skips the beat.
    for (const gap of gaps) expect(gap).toBeGreaterThan(500);
    for (const gap of gaps) expect(gap).toBeLessThan(2_500);
    expect(conn.events).toEqual([]);
  });
});

describe('shutdown', () => {
  it('ends open streams when the server stops, so clients reconnect elsewhere', async () => {
    const stopping = await startTestApp({ LOG_LEVEL: 'info' });
    const member = await stopping.newTeam();
    const conn = await openSse(stopping.url, '/v1/events', { key: member.apiKey });
    expect(conn.status).toBe(200);
    const started = Date.now();
    const stopped = stopping.stop();
    await waitFor('the stream to end', () => conn.ended(), 15_000);
    // Ended with the long-polls, before the jobs drain (up to 10 s): well within that.
    expect(Date.now() - started).toBeLessThan(10_000);
    await stopped;
  });
});

describe('caps on open streams', () => {
  let capped: TestApp;
  let a: TestTeam;
  let b: TestTeam;
  beforeAll(async () => {
    capped = await startTestApp({
      ASYNCQUEUE_EVENTS_MAX_STREAMS_PER_TEAM: '2',
      ASYNCQUEUE_EVENTS_MAX_STREAMS: '3',
      LOG_LEVEL: 'info',
    });
    a = await capped.newTeam();
    b = await capped.newTeam();
  });
  afterAll(async () => {
    await capped?.stop();
  });

  it('refuses a team’s stream past its cap (429) and any stream past the server’s (503), then frees the slot on close', async () => {
    const first = await openSse(capped.url, '/v1/events', { key: a.apiKey });
    const second = await openSse(capped.url, '/v1/events', { key: a.apiKey });
    expect([first.status, second.status]).toEqual([200, 200]);
    const third = await openSse(capped.url, '/v1/events', { key: a.apiKey });
    expect(third.status).toBe(429);
    expect(third.headers['retry-after']).toBe('5');
    expect(third.errorBody.code).toBe('rate_limited');
    const otherTeam = await openSse(capped.url, '/v1/events', { key: b.apiKey });
    expect(otherTeam.status).toBe(200);
    const full = await openSse(capped.url, '/v1/events', { key: b.apiKey });
    expect(full.status).toBe(503);
    expect(full.headers['retry-after']).toBe('5');
    first.close();
    otherTeam.close();
    let again: SseConnection | undefined;
    for (let i = 0; i < 50 && again?.status !== 200; i += 1) {
      again?.close();
      again = await openSse(capped.url, '/v1/events', { key: a.apiKey });
    }
    expect(again?.status).toBe(200);
    again?.close();
    second.close();
  });
});
