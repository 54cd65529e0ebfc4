import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleRetention } from '../server/src/jobs/handlers/retention-handler.ts';
import { type FakeProvider, startFakeProvider } from './helpers/fake-provider.ts';
import { api } from './helpers/http.ts';
import { waitForStatus } from './helpers/task-waits.ts';
import { startTestApp, type TestApp } from './helpers/test-app.ts';
import { createTestDatabase } from './helpers/test-database.ts';

let provider: FakeProvider;
beforeAll(async () => {
  provider = await startFakeProvider();
});
afterAll(() => provider.stop());

describe('health, readiness and metrics', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.stop());

  it('answers /healthz and /readyz', async () => {
    expect((await api(t.url, 'GET', '/healthz')).body).toEqual({ status: 'ok' });
    const ready = await api(t.url, 'GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ ready: true, checks: { database: true, queue: true } });
  });

  it('exposes process, HTTP and task metrics in Prometheus text', async () => {
    const team = await t.newTeam();
    const created = await api(t.url, 'POST', '/v1/tasks', {
      key: team.apiKey,
      body: { targetUrl: provider.url('/ok') },
    });
    await waitForStatus(t.url, team.apiKey, created.body.task.id, 'completed');
    const res = await fetch(`${t.url}/metrics`);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
    expect(text).toMatch(/^asyncqueue_http_requests_total\{method="POST",route="\/v1\/tasks",status="201"\} [1-9]/m);
    expect(text).toMatch(/^asyncqueue_http_request_duration_seconds_bucket\{route="\/v1\/tasks",le="\+Inf"\} [1-9]/m);
    expect(text).toMatch(/^asyncqueue_task_transitions_total\{status="completed"\} [1-9]/m);
    expect(text).toMatch(/^asyncqueue_dispatch_duration_seconds_count\{outcome="success"\} [1-9]/m);
    expect(text).toMatch(/^asyncqueue_tasks\{status="pending"\} \d+/m);
    expect(text).toMatch(/^asyncqueue_queue_jobs\{queue="dispatch",state="queued"\} \d+/m);
    // Route labels never carry ids or credentials.
    expect(text).not.toContain(created.body.task.id);
  });

  it('answers unknown routes with a JSON 404 that points to the docs', async () => {
    const res = await api(t.url, 'GET', '/nope');
    expect(res.status).toBe(404);
    expect(res.body.error).toContain('/docs');
  });
});

describe('roles', () => {
  it('splits API and worker processes on one database', async () => {
    const url = await createTestDatabase();
    // Instances of one deployment share the encryption key: what one seals, the other opens.
    const encryptionKey = randomBytes(32).toString('base64');
    const apiOnly = await startTestApp({ ASYNCQUEUE_ROLE: 'api', ASYNCQUEUE_ENCRYPTION_KEY: encryptionKey }, url);
    try {
      const team = await apiOnly.newTeam();
      const created = await api(apiOnly.url, 'POST', '/v1/tasks', {
        key: team.apiKey,
        body: { targetUrl: provider.url('/ok') },
      });
      expect(created.status).toBe(201);
      // No worker anywhere: the task stays pending.
      const still = await api(apiOnly.url, 'GET', `/v1/tasks/${created.body.task.id}?wait=2`, { key: team.apiKey });
      expect(still.body.task.status).toBe('pending');
      const worker = await startTestApp({ ASYNCQUEUE_ROLE: 'worker', ASYNCQUEUE_ENCRYPTION_KEY: encryptionKey }, url);
      try {
        expect((await api(worker.url, 'GET', '/v1/tasks', { key: team.apiKey })).status).toBe(404);
        expect((await api(worker.url, 'GET', '/healthz')).status).toBe(200);
        expect((await api(worker.url, 'GET', '/metrics')).status).toBe(200);
        const done = await waitForStatus(apiOnly.url, team.apiKey, created.body.task.id, 'completed');
        expect(done.attempts).toHaveLength(1);
      } finally {
        await worker.stop();
      }
    } finally {
      await apiOnly.stop();
    }
  });
});

describe('retention', () => {
  it('deletes terminal tasks older than the retention period and expired idempotency keys, nothing else', async () => {
    const t = await startTestApp({ ASYNCQUEUE_RETENTION_DAYS: '30' });
    try {
      const team = await t.newTeam();
      const mk = async (extra: Record<string, unknown>) =>
        (
          await api(t.url, 'POST', '/v1/tasks', {
            key: team.apiKey,
            body: { targetUrl: provider.url('/ok'), ...extra },
          })
        ).body.task.id;
      const old = await mk({ idempotencyKey: 'old-key' });
      const recent = await mk({});
      const active = await mk({ delayUntil: new Date(Date.now() + 86_400_000).toISOString() });
      await waitForStatus(t.url, team.apiKey, old, 'completed');
      await waitForStatus(t.url, team.apiKey, recent, 'completed');
      const em = t.app.orm.em.fork();
      // Backdate instead of waiting 30 days.
      await em.execute(
        `update tasks set completed_at = now() - interval '31 days', created_at = now() - interval '31 days' where id = ?`,
        [old],
      );
      await em.execute(`update tasks set created_at = now() - interval '31 days' where id = ?`, [active]);
      await em.execute(`update idempotency_keys set created_at = now() - interval '25 hours' where key = 'old-key'`);
      const deleted = await handleRetention({
        lifecycle: { em: () => t.app.orm.em.fork() },
        retentionDays: 30,
      } as never);
      expect(deleted).toEqual({ tasks: 1, idempotencyKeys: 1 });
      const ids = (await em.execute<{ id: string }[]>('select id from tasks')).map((r) => r.id);
      expect(ids).not.toContain(old);
      expect(ids).toContain(recent);
      expect(ids).toContain(active);
      expect(
        await handleRetention({ lifecycle: { em: () => t.app.orm.em.fork() }, retentionDays: 30 } as never),
      ).toEqual({
        tasks: 0,
        idempotencyKeys: 0,
      });
    } finally {
      await t.stop();
    }
  });
});
