import { afterAll, beforeAll, expect } from 'vitest';
import { type FakeProvider, type ReceivedRequest, startFakeProvider } from './fake-provider.ts';
import { filledByBeforeAll } from './fixture-state.ts';
import { api } from './http.ts';
import { type AppDb, openAppDb } from './pgboss-jobs.ts';
import { waitForStatus } from './task-waits.ts';
import { startTestApp, type TestApp, type TestTeam } from './test-app.ts';
import { startWebhookSink, type WebhookSink } from './webhook-sink.ts';

/** The 201 body of POST /v1/tasks, as far as the lifecycle tests read it. */
export type CreatedTask = {
  task: { id: string; status: string; delayUntil: string | null; callbackId: string | null };
  callbackUrl?: string;
  signalToken?: string;
};

type Parts = {
  /** The in-process server, started with the file's env overrides. */
  t: TestApp;
  /** The team whose key `create`, `getTask` and `until` use unless given another. */
  team: TestTeam;
  /** The loopback target of test/helpers/fake-provider.ts. */
  provider: FakeProvider;
  /** A webhook receiver verifying with `team`'s secret (not with `webhookSink: false`). */
  sink: WebhookSink;
  /** A direct connection to the app's database: pg-boss jobs and task rows (not with `appDb: false`). */
  db: AppDb;
};

export type LifecycleFixture = Readonly<Parts> & {
  /** POST /v1/tasks; asserts the 201. */
  create(body: Record<string, unknown>, apiKey?: string): Promise<CreatedTask>;
  /** GET /v1/tasks/:id; asserts the 200. */
  getTask(id: string, apiKey?: string): Promise<any>;
  /** Waits (long-polling) until the task has `status`: 15 s unless `timeoutMs`. */
  until(id: string, status: string, opts?: { timeoutMs?: number; apiKey?: string }): Promise<any>;
  /** The requests the fake provider received for the task (by X-AsyncQueue-Task-Id). */
  requestsFor(taskId: string): ReceivedRequest[];
};

/**
 * Registers beforeAll/afterAll for a task-lifecycle test file: a test app started with `env`, one
 * team, a fake provider and, unless opted out, a webhook sink and a connection to the app's
 * database. The returned context is filled in by beforeAll: read its fields inside tests and hooks.
 */
export function useLifecycleFixture(
  env: Record<string, string>,
  opts: { webhookSink?: boolean; appDb?: boolean } = {},
): LifecycleFixture {
  const state: Partial<Parts> = {};
  beforeAll(async () => {
    const t = await startTestApp(env);
    state.t = t;
    const team = await t.newTeam();
    state.team = team;
    state.provider = await startFakeProvider();
    if (opts.webhookSink !== false) state.sink = await startWebhookSink(() => team.webhookSecret);
    if (opts.appDb !== false) state.db = await openAppDb(t.databaseUrl);
  });
  afterAll(async () => {
    await state.db?.close();
    await state.t?.stop();
    await state.provider?.stop();
    await state.sink?.stop();
  });

  const parts = filledByBeforeAll('lifecycle fixture', state, ['t', 'team', 'provider', 'sink', 'db']);
  return Object.assign(parts, {
    async create(body: Record<string, unknown>, apiKey = parts.team.apiKey) {
      const res = await api(parts.t.url, 'POST', '/v1/tasks', { key: apiKey, body });
      expect(res.status, res.text).toBe(201);
      return res.body as CreatedTask;
    },
    async getTask(id: string, apiKey = parts.team.apiKey) {
      const res = await api(parts.t.url, 'GET', `/v1/tasks/${id}`, { key: apiKey });
      expect(res.status, res.text).toBe(200);
      return res.body.task;
    },
    until: (id: string, status: string, { timeoutMs = 15_000, apiKey = parts.team.apiKey } = {}) =>
      waitForStatus(parts.t.url, apiKey, id, status, timeoutMs),
    requestsFor: (taskId: string): ReceivedRequest[] =>
      parts.provider.received.filter((r) => r.headers['x-asyncqueue-task-id'] === taskId),
  });
}
