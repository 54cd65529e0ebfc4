import { afterAll, describe, expect, it } from 'vitest';
import { type Cluster, createCluster, createTeamOnDatabase } from './helpers/cluster.ts';
import { type FakeProvider, startFakeProvider } from './helpers/fake-provider.ts';
import { type HoldFirstTarget, startHoldFirstTarget } from './helpers/hold-first-target.ts';
import { api } from './helpers/http.ts';
import { pollForStatus, waitForQuietSink } from './helpers/race-tools.ts';
import { createTestDatabase } from './helpers/test-database.ts';
import { waitFor } from './helpers/wait-for.ts';
import { startWebhookSink } from './helpers/webhook-sink.ts';

// A killed instance loses nothing. Real processes: instance A is SIGKILLed (no shutdown
// hook runs), instance B starts on the same database and finishes A's work. Takeover window:
// ASYNCQUEUE_JOB_TAKEOVER_SECONDS=20 → pg-boss heartbeat max(10, 20/2) = 10 s.

const CALLBACK_TASKS = 10;
const SIGNAL_TASKS = 5;
// Why 15 s: long enough for A to be killed and B to start before any expiry is due.
const MAX_WAIT_SECONDS = 15;
// A killed instance's in-flight jobs are picked up by another within 60 s (the takeover bound).
const TAKEOVER_BOUND_MS = 60_000;
const TERMINAL = ['completed', 'failed', 'timeout', 'cancelled'];

const clusters: Cluster[] = [];
const closers: (() => Promise<void>)[] = [];
const figures: Record<string, unknown> = {};

afterAll(async () => {
  for (const close of closers) await close().catch(() => {});
  const leftovers: number[] = [];
  for (const cluster of clusters) leftovers.push(...(await cluster.stopAll()));
  if (leftovers.length > 0) process.stderr.write(`crash.test: killed leftover postgres ${leftovers.join(',')}\n`);
  process.stderr.write(`crash.test figures: ${JSON.stringify(figures)}\n`);
}, 60_000);

/** A fresh database, a cluster on it, instance A started (it migrates), and a team made on the database. */
async function setUp() {
  const databaseUrl = await createTestDatabase();
  const cluster = createCluster(databaseUrl);
  clusters.push(cluster);
  const a = await cluster.start();
  const team = await createTeamOnDatabase(databaseUrl, cluster.encryptionKey);
  const sink = await startWebhookSink(() => team.webhookSecret);
  closers.push(() => sink.stop());
  return { cluster, a, team, sink };
}

const withOrigin = (url: string, origin: string) => {
  const moved = new URL(url);
  const target = new URL(origin);
  moved.protocol = target.protocol;
  moved.host = target.host;
  return moved.toString();
};

describe('SIGKILL of an instance', () => {
  it(`while ${CALLBACK_TASKS} callback and ${SIGNAL_TASKS} signal tasks wait: B takes the callbacks and expires the rest`, {
    timeout: 180_000,
  }, async () => {
    const { cluster, a, team, sink } = await setUp();
    const provider: FakeProvider = await startFakeProvider();
    closers.push(() => provider.stop());
    const key = team.apiKey;

    const callbackTasks: { id: string; callbackUrl: string }[] = [];
    for (let n = 0; n < CALLBACK_TASKS; n += 1) {
      const res = await api(a.url, 'POST', '/v1/tasks', {
        key,
        body: {
          targetUrl: provider.url(`/ok?crash=callback-${n}`),
          headers: { 'X-Callback': '{asyncqueue_callback_url}' },
          onCompleteUrl: sink.url,
        },
      });
      expect(res.status, res.text).toBe(201);
      expect(res.body.callbackUrl.startsWith(`${a.url}/v1/callbacks/`), res.body.callbackUrl).toBe(true);
      callbackTasks.push({ id: res.body.task.id, callbackUrl: res.body.callbackUrl });
    }
    const signalTasks: string[] = [];
    for (let n = 0; n < SIGNAL_TASKS; n += 1) {
      const res = await api(a.url, 'POST', '/v1/tasks', {
        key,
        body: {
          targetUrl: provider.url(`/ok?crash=signal-${n}`),
          waitForSignal: true,
          maxWaitTime: MAX_WAIT_SECONDS,
          onCompleteUrl: sink.url,
        },
      });
      expect(res.status, res.text).toBe(201);
      signalTasks.push(res.body.task.id);
    }
    const allIds = [...callbackTasks.map((c) => c.id), ...signalTasks];
    const waitingAt = new Map<string, number>();
    for (const id of allIds) {
      const task = await pollForStatus(a.url, key, id, ['waiting', ...TERMINAL], 20_000);
      expect(task.status, `${id} before the kill`).toBe('waiting');
      waitingAt.set(id, Date.parse(task.updatedAt));
    }
    // The provider's callback placeholder went out with A's public URL.
    for (const { id, callbackUrl } of callbackTasks) {
      const seen = provider.received.find((r) => r.headers['x-asyncqueue-task-id'] === id);
      expect(seen?.headers['x-callback'], `callback URL sent for ${id}`).toBe(callbackUrl);
    }

    await cluster.kill(a);
    const killedAt = Date.now();
    const b = await cluster.start();
    figures.waitingKill = { bReadyAfterKillMs: Date.now() - killedAt };

    // The callback id is the credential: any instance accepts it.
    for (const { id, callbackUrl } of callbackTasks) {
      const payload = JSON.stringify({ status: 'done', task: id });
      const res = await api('', 'POST', withOrigin(callbackUrl, b.url), {
        rawBody: payload,
        headers: { 'content-type': 'application/json' },
      });
      expect(res.status, res.text).toBe(200);
      expect(res.body.task).toMatchObject({ id, status: 'completed' });
      expect(res.body.task.result.body).toBe(payload);
      const again = await api('', 'POST', withOrigin(callbackUrl, b.url), {
        rawBody: payload,
        headers: { 'content-type': 'application/json' },
      });
      expect(again.status, again.text).toBe(404);
      expect(again.body.error).toBe('Invalid or expired callback ID');
    }

    // The expiry jobs A scheduled are run by B's expire worker.
    const expiredAfterMs: number[] = [];
    for (const id of signalTasks) {
      const task = await pollForStatus(b.url, key, id, TERMINAL, 40_000);
      expect(task.status, `${id} after maxWaitTime`).toBe('timeout');
      expect(task.error).toContain('maxWaitTime');
      expiredAfterMs.push(Date.parse(task.completedAt) - (waitingAt.get(id) as number));
    }
    for (const ms of expiredAfterMs) {
      expect(ms).toBeGreaterThanOrEqual(MAX_WAIT_SECONDS * 1000 - 50);
      expect(ms).toBeLessThan(MAX_WAIT_SECONDS * 1000 + 15_000);
    }
    figures.waitingKill = { ...(figures.waitingKill as object), expiredAfterWaitingMs: expiredAfterMs };

    // Why a quiet period: a duplicate webhook would come from a second job right behind the first.
    await waitForQuietSink(sink, { since: Date.now() });
    for (const { id } of callbackTasks) {
      expect(sink.forTask(id), `webhooks for ${id}`).toHaveLength(1);
      expect(sink.forTask(id)[0]).toMatchObject({ event: 'task.completed', status: 'completed', standardValid: true });
    }
    for (const id of signalTasks) {
      expect(sink.forTask(id), `webhooks for ${id}`).toHaveLength(1);
      expect(sink.forTask(id)[0]).toMatchObject({ event: 'task.timeout', status: 'timeout', standardValid: true });
    }
    expect(sink.deliveries).toHaveLength(allIds.length);
    // Each provider call happened once, before the kill.
    for (const id of allIds) {
      expect(
        provider.received.filter((r) => r.headers['x-asyncqueue-task-id'] === id),
        `calls for ${id}`,
      ).toHaveLength(1);
    }
    // Done with B: free its connections before the next test starts two more instances.
    await cluster.kill(b);
  });

  it('during an HTTP call: B retries the task after the heartbeat lapses, it completes exactly once', {
    timeout: 180_000,
  }, async () => {
    const { cluster, a, team, sink } = await setUp();
    const target: HoldFirstTarget = await startHoldFirstTarget();
    closers.push(() => target.stop());
    const key = team.apiKey;

    const created = await api(a.url, 'POST', '/v1/tasks', {
      key,
      // A per-attempt timeout far beyond the test: the first call must still be open when A dies.
      body: { targetUrl: target.url, body: '{"prompt":"crash"}', timeout: 300, onCompleteUrl: sink.url },
    });
    expect(created.status, created.text).toBe(201);
    const id: string = created.body.task.id;
    await waitFor('the target to receive the first call', () => target.requests.length >= 1, 20_000);
    const processing = await api(a.url, 'GET', `/v1/tasks/${id}`, { key });
    expect(processing.body.task.status).toBe('processing');

    await cluster.kill(a);
    const killedAt = Date.now();
    // The held connection dies with A.
    await waitFor('the held call to be closed', () => target.requests[0]?.closedAt !== null, 10_000);
    const b = await cluster.start();
    const bReadyAfterKillMs = Date.now() - killedAt;

    await waitFor('the retried call', () => target.requests.length >= 2, TAKEOVER_BOUND_MS + 15_000);
    const takeoverMs = (target.requests[1]?.at as number) - killedAt;
    figures.httpKill = { bReadyAfterKillMs, takeoverMs };
    expect(takeoverMs, 'takeover after the kill (within 60 s)').toBeLessThanOrEqual(TAKEOVER_BOUND_MS);

    const done = await pollForStatus(b.url, key, id, TERMINAL, 30_000);
    expect(done.status, JSON.stringify(done)).toBe('completed');
    expect(JSON.parse(done.result.body)).toEqual({ ok: true, n: 2 });
    // The interrupted attempt is recorded too, and attempt numbers never repeat.
    expect(done.attempts, JSON.stringify(done.attempts)).toHaveLength(2);
    expect(done.attempts[0]).toMatchObject({ number: 1, statusCode: null, willRetry: true });
    expect(done.attempts[0].error).toContain('Interrupted');
    expect(done.attempts[1]).toMatchObject({ number: 2, statusCode: 200, error: null, willRetry: false });
    expect(done.retryCount).toBe(1);
    expect(target.requests.map((r) => r.attempt)).toEqual(['1', '2']);
    figures.httpKill = {
      ...(figures.httpKill as object),
      recordedAttempts: done.attempts.length,
      attemptHeaders: target.requests.map((r) => r.attempt),
    };

    // Why a quiet period: a duplicate completion or webhook would come right behind the first.
    await waitForQuietSink(sink, { since: Date.now(), quietMs: 2_000 });
    expect(sink.forTask(id)).toHaveLength(1);
    expect(sink.forTask(id)[0]).toMatchObject({ event: 'task.completed', status: 'completed', standardValid: true });
    // The killed call and the retry, both for this task: nothing more.
    expect(target.requests.map((r) => r.taskId)).toEqual([id, id]);
    const final = await api(b.url, 'GET', `/v1/tasks/${id}`, { key });
    expect(final.body.task.status).toBe('completed');
    expect(final.body.task.completedAt).toBe(done.completedAt);
    expect(final.body.task.webhookDeliveries).toHaveLength(1);
  });
});
