import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyDispatch } from '../sdk/src/verify-dispatch.ts';
import { rotateTeamSecret } from '../server/src/auth/teams.ts';
import { api } from './helpers/http.ts';
import { useLifecycleFixture } from './helpers/lifecycle-fixture.ts';
import { type RecordingServer, startRecordingServer } from './helpers/recording-server.ts';
import { waitForCurrentStatus } from './helpers/status-waits.ts';
import { TASK_KEYS } from './helpers/tasks.ts';
import { freePort } from './helpers/test-app.ts';
import { waitFor } from './helpers/wait-for.ts';
import { startWebhookSink, verifyAsyncQueueSignature } from './helpers/webhook-sink.ts';

// Completion webhooks: retries on the 5 s / 30 s … schedule with a stable webhook-id,
// 410, Retry-After, redelivery, the body, and signing during a secret rotation. Long retry delays
// are skipped by backdating the queued pg-boss job, never by sleeping.

type DeliveryRecord = {
  attempt: number;
  webhookId: string;
  sentAt: string;
  durationMs: number;
  statusCode: number | null;
  error: string | null;
};

const ctx = useLifecycleFixture(
  {
    // Why: waits below poll the API; the team limit is tested in rate-limit.test.ts.
    ASYNCQUEUE_RATE_LIMIT_PER_MINUTE: '100000',
    ASYNCQUEUE_CALLBACK_RATE_LIMIT_PER_MINUTE: '100000',
  },
  // Each test starts its own receiver (newSink, newRecorder): each counts only its own deliveries.
  { webhookSink: false },
);
const { create, getTask, until } = ctx;
const sinks: { stop(): Promise<void> }[] = [];
// Registered after the fixture's, so it runs before it: the receivers stop before the app does.
afterAll(async () => {
  for (const s of sinks) await s.stop();
});

/** A fresh sink per test: `failFirst` counts every delivery the sink receives. */
const newSink = async (opts: Parameters<typeof startWebhookSink>[1] = {}, secret = () => ctx.team.webhookSecret) => {
  const sink = await startWebhookSink(secret, opts);
  sinks.push(sink);
  return sink;
};
const newRecorder = async (answer?: NonNullable<Parameters<typeof startRecordingServer>[0]>['answer']) => {
  const server = await startRecordingServer(answer ? { answer } : {});
  sinks.push(server);
  return server;
};
const redeliver = (id: string, apiKey = ctx.team.apiKey) =>
  api(ctx.t.url, 'POST', `/v1/tasks/${id}/webhook/redeliver`, { key: apiKey });

/** Waits until the task has recorded `n` webhook deliveries (read from the row: no rate limit). */
const deliveriesRecorded = async (taskId: string, n: number): Promise<DeliveryRecord[]> =>
  waitFor(`${n} webhook deliveries recorded on ${taskId}`, async () => {
    const row = await ctx.db.taskRow(taskId);
    return row.webhookDeliveries.length >= n ? (row.webhookDeliveries as DeliveryRecord[]) : null;
  });

/** The one queued retry of the task's webhook, and its delay after the delivery that failed. */
const queuedRetry = async (taskId: string, after: DeliveryRecord) => {
  const queued = await ctx.db.queued('webhook', taskId);
  expect(queued).toHaveLength(1);
  const job = queued[0]!;
  expect(job.data).toEqual({ taskId, attempt: after.attempt + 1 });
  return { job, delayMs: job.startAfter.getTime() - Date.parse(after.sentAt) };
};

describe('completion webhooks', () => {
  it('retries a failing receiver on the schedule with the same webhook-id, every delivery signed', async () => {
    const sink = await newSink({ failFirst: 2 });
    const { task } = await create({ targetUrl: ctx.provider.url('/ok'), onCompleteUrl: sink.url });
    await until(task.id, 'completed');

    const [first] = await deliveriesRecorded(task.id, 1);
    const retry1 = await queuedRetry(task.id, first!);
    // Schedule: 5 s after the first failure, up to +10 % jitter, + up to 1 s for the delivery itself.
    expect(retry1.delayMs).toBeGreaterThanOrEqual(5_000);
    expect(retry1.delayMs).toBeLessThanOrEqual(5_500 + 1_000);
    expect(await ctx.db.makeDue('webhook', task.id)).toBe(1);

    const second = (await deliveriesRecorded(task.id, 2))[1]!;
    const retry2 = await queuedRetry(task.id, second);
    expect(retry2.delayMs).toBeGreaterThanOrEqual(30_000);
    expect(retry2.delayMs).toBeLessThanOrEqual(33_000 + 1_000);
    expect(await ctx.db.makeDue('webhook', task.id)).toBe(1);
    console.log(
      `[webhooks] queued retry delays after a 500: ${retry1.delayMs} ms, ${retry2.delayMs} ms (nominal 5000, 30000)`,
    );

    const recorded = await deliveriesRecorded(task.id, 3);
    const received = await waitFor('3 deliveries at the sink', () =>
      sink.forTask(task.id).length === 3 ? sink.forTask(task.id) : null,
    );
    expect(received.map((d) => d.answered)).toEqual([500, 500, 200]);
    expect(new Set(received.map((d) => d.webhookId))).toEqual(new Set([recorded[0]!.webhookId]));
    expect(recorded[0]!.webhookId).toMatch(/^msg_[0-9a-f]{32}$/);
    for (const d of received) {
      expect(d).toMatchObject({ event: 'task.completed', taskId: task.id, standardValid: true, asyncQueueValid: true });
    }
    expect(recorded.map((d) => [d.attempt, d.statusCode, d.error, d.webhookId])).toEqual([
      [1, 500, 'Receiver answered 500', recorded[0]!.webhookId],
      [2, 500, 'Receiver answered 500', recorded[0]!.webhookId],
      [3, 200, null, recorded[0]!.webhookId],
    ]);
    expect((await getTask(task.id)).webhookDeliveries).toEqual(recorded);
    // Delivered: nothing more is queued.
    expect(await ctx.db.queued('webhook', task.id)).toEqual([]);
  });

  it('a 410 stops at once: one delivery, no retry queued', async () => {
    const sink = await newSink({ status: 410 });
    const { task } = await create({ targetUrl: ctx.provider.url('/ok'), onCompleteUrl: sink.url });
    await until(task.id, 'completed');
    const recorded = await deliveriesRecorded(task.id, 1);
    expect(recorded).toHaveLength(1);
    expect(recorded[0]).toMatchObject({ attempt: 1, statusCode: 410, error: 'Receiver answered 410' });
    expect(sink.forTask(task.id)).toHaveLength(1);
    expect(await ctx.db.jobs('webhook', task.id)).toHaveLength(1);
    expect(await ctx.db.queued('webhook', task.id)).toEqual([]);
  });

  it('honours Retry-After on a 503 when it is later than the schedule', async () => {
    const sink = await newSink({ status: 503, retryAfter: '120' });
    const { task } = await create({ targetUrl: ctx.provider.url('/ok'), onCompleteUrl: sink.url });
    await until(task.id, 'completed');
    const [first] = await deliveriesRecorded(task.id, 1);
    expect(first).toMatchObject({ attempt: 1, statusCode: 503, error: 'Receiver answered 503' });
    const { delayMs } = await queuedRetry(task.id, first!);
    console.log(`[webhooks] Retry-After: 120 on a 503 → retry queued ${delayMs} ms after the delivery`);
    // 120 s wins over the 5 s step, exactly (no jitter on a receiver's own delay).
    expect(delayMs).toBeGreaterThanOrEqual(120_000);
    expect(delayMs).toBeLessThanOrEqual(120_000 + 1_000);
  });

  it('keeps the schedule when Retry-After is earlier than it', async () => {
    const sink = await newSink({ status: 503, retryAfter: '1' });
    const { task } = await create({ targetUrl: ctx.provider.url('/ok'), onCompleteUrl: sink.url });
    await until(task.id, 'completed');
    const [first] = await deliveriesRecorded(task.id, 1);
    const { delayMs } = await queuedRetry(task.id, first!);
    expect(delayMs).toBeGreaterThanOrEqual(5_000);
    expect(delayMs).toBeLessThanOrEqual(5_500 + 1_000);
  });

  it('redelivers on request with the same webhook-id; 409 without onCompleteUrl or before the end; 404 for another team', async () => {
    const sink = await newSink();
    const { task } = await create({ targetUrl: ctx.provider.url('/ok'), onCompleteUrl: sink.url });
    await until(task.id, 'completed');
    const [first] = await deliveriesRecorded(task.id, 1);
    expect(first).toMatchObject({ attempt: 1, statusCode: 200 });

    const res = await redeliver(task.id);
    expect(res.status, res.text).toBe(202);
    expect(Object.keys(res.body)).toEqual(['task']);
    expect(res.body.task).toMatchObject({ id: task.id, status: 'completed' });
    const recorded = await deliveriesRecorded(task.id, 2);
    expect(recorded.map((d) => [d.attempt, d.statusCode, d.webhookId])).toEqual([
      [1, 200, first!.webhookId],
      [2, 200, first!.webhookId],
    ]);
    const received = await waitFor('the redelivery', () =>
      sink.forTask(task.id).length === 2 ? sink.forTask(task.id) : null,
    );
    expect(received.map((d) => d.webhookId)).toEqual([first!.webhookId, first!.webhookId]);
    expect(received.every((d) => d.standardValid && d.asyncQueueValid)).toBe(true);

    const plain = await create({ targetUrl: ctx.provider.url('/ok') });
    await until(plain.task.id, 'completed');
    const noUrl = await redeliver(plain.task.id);
    expect(noUrl.status, noUrl.text).toBe(409);
    expect(noUrl.body.code).toBe('conflict');
    expect(noUrl.body.error).toContain('onCompleteUrl');

    const waiting = await create({ targetUrl: ctx.provider.url('/ok'), waitForSignal: true, onCompleteUrl: sink.url });
    await waitForCurrentStatus(ctx.t.url, ctx.team.apiKey, waiting.task.id, 'waiting');
    const notYet = await redeliver(waiting.task.id);
    expect(notYet.status, notYet.text).toBe(409);
    expect(notYet.body.code).toBe('conflict');

    const delayed = await create({
      targetUrl: ctx.provider.url('/ok'),
      onCompleteUrl: sink.url,
      delayUntil: new Date(Date.now() + 3_600_000).toISOString(),
    });
    expect((await redeliver(delayed.task.id)).status).toBe(409);

    const other = await ctx.t.newTeam();
    const foreign = await redeliver(task.id, other.apiKey);
    expect(foreign.status, foreign.text).toBe(404);
    expect(foreign.body.code).toBe('not_found');
    // None of the refused requests queued anything.
    expect(await ctx.db.queued('webhook', plain.task.id)).toEqual([]);
    expect(await ctx.db.jobs('webhook', waiting.task.id)).toEqual([]);
    expect(await ctx.db.jobs('webhook', delayed.task.id)).toEqual([]);
    expect(await ctx.db.queued('webhook', task.id)).toEqual([]);
  });

  it('a failing webhook never changes the task: neither a receiver error nor a connection error', async () => {
    const sink = await newSink({ status: 500 });
    const { task } = await create({ targetUrl: ctx.provider.url('/status/422'), onCompleteUrl: sink.url });
    const failed = await until(task.id, 'failed');
    expect(failed.error).toBe('HTTP 422');
    await deliveriesRecorded(task.id, 1);
    expect(await ctx.db.makeDue('webhook', task.id)).toBe(1);
    const recorded = await deliveriesRecorded(task.id, 2);
    expect(recorded.map((d) => d.statusCode)).toEqual([500, 500]);
    expect(sink.forTask(task.id).map((d) => d.event)).toEqual(['task.failed', 'task.failed']);
    const after = await getTask(task.id);
    expect(after).toMatchObject({ status: 'failed', error: 'HTTP 422', completedAt: failed.completedAt });
    expect(after.result).toEqual(failed.result);
    expect(after.attempts).toEqual(failed.attempts);

    // Nothing listens on this port: the delivery is a connection error.
    const closedPort = await freePort();
    const refused = await create({
      targetUrl: ctx.provider.url('/ok'),
      onCompleteUrl: `http://127.0.0.1:${closedPort}/hook`,
    });
    const completed = await until(refused.task.id, 'completed');
    const [delivery] = await deliveriesRecorded(refused.task.id, 1);
    expect(delivery).toMatchObject({ attempt: 1, statusCode: null });
    expect(delivery!.error).toMatch(/ECONNREFUSED/);
    expect(await ctx.db.queued('webhook', refused.task.id)).toHaveLength(1);
    const still = await getTask(refused.task.id);
    expect(still).toMatchObject({ status: 'completed', error: null, completedAt: completed.completedAt });
    expect(still.result).toEqual(completed.result);
  });

  it('the body is exactly {event, task} with the full task object and no credentials', async () => {
    const recorder = await newRecorder();
    const created = await create({
      targetUrl: ctx.provider.url('/ok'),
      headers: { 'X-Callback': '{asyncqueue_callback_url}', Authorization: 'Bearer sk-very-secret-value' },
      waitForSignal: true,
      onCompleteUrl: recorder.url('/hook'),
    });
    expect(created.task.callbackId).toMatch(/^[0-9a-f]{64}$/);
    expect(created.signalToken).toMatch(/^[0-9a-f]{64}$/);
    await waitForCurrentStatus(ctx.t.url, ctx.team.apiKey, created.task.id, 'waiting');
    const signalled = await api(ctx.t.url, 'POST', `/v1/signals/${created.signalToken}`, {
      body: { status: 'completed', result: { approved: true } },
    });
    expect(signalled.status, signalled.text).toBe(200);
    await deliveriesRecorded(created.task.id, 1);
    const hook = await waitFor('the webhook', () => recorder.received[0]);
    expect(hook.method).toBe('POST');
    expect(hook.headers['content-type']).toBe('application/json');
    expect(hook.headers['user-agent']).toMatch(/^AsyncQueue\//);
    const body = JSON.parse(hook.raw);
    expect(Object.keys(body).sort()).toEqual(['event', 'task']);
    expect(body.event).toBe('task.completed');
    expect(Object.keys(body.task).sort()).toEqual(TASK_KEYS);
    expect(body.task).toMatchObject({
      id: created.task.id,
      status: 'completed',
      hasCallback: true,
      waitForSignal: true,
      onCompleteUrl: recorder.url('/hook'),
      webhookDeliveries: [],
      error: null,
    });
    expect(body.task.result.body).toBe('{"approved":true}');
    expect(body.task.headers.Authorization).toBe('Bear****');
    // The webhook shows the task as GET does, up to the delivery it is itself recorded as.
    const { updatedAt: _u1, webhookDeliveries: _w1, ...viaGet } = await getTask(created.task.id);
    const { updatedAt: _u2, webhookDeliveries: _w2, ...viaHook } = body.task;
    expect(viaHook).toEqual(viaGet);
    for (const secret of [created.task.callbackId!, created.signalToken!, 'sk-very-secret-value']) {
      expect(hook.raw).not.toContain(secret);
    }
    expect(hook.raw).not.toMatch(/callbackId|signalToken/);
  });

  it('during a secret rotation every delivery is signed with the new and the old secret', async () => {
    const rotating = await ctx.t.newTeam();
    const oldSecret = rotating.webhookSecret;
    const rotated = await rotateTeamSecret(ctx.t.app.orm.em.fork(), rotating.teamId, ctx.t.app.secretBox);
    const newSecret = rotated.webhookSecret;
    expect(newSecret).toMatch(/^whsec_/);
    expect(newSecret).not.toBe(oldSecret);
    const stranger = `whsec_${randomBytes(32).toString('base64')}`;

    const recorder: RecordingServer = await newRecorder();
    const { task } = await create(
      { targetUrl: ctx.provider.url('/ok?rotation=1'), body: '{"r":1}', onCompleteUrl: recorder.url('/hook') },
      rotating.apiKey,
    );
    await until(task.id, 'completed', { apiKey: rotating.apiKey });
    const hook = await waitFor('the webhook', () => recorder.received[0]);
    const headers = hook.headers as Record<string, string>;
    expect(headers['webhook-id']).toMatch(/^msg_/);
    expect(headers['webhook-signature']?.split(' ').map((s) => s.slice(0, 3))).toEqual(['v1,', 'v1,']);
    // The standardwebhooks library accepts either secret, and refuses one that never signed.
    expect(new Webhook(newSecret).verify(hook.raw, headers)).toMatchObject({ event: 'task.completed' });
    expect(new Webhook(oldSecret).verify(hook.raw, headers)).toMatchObject({ event: 'task.completed' });
    expect(() => new Webhook(stranger).verify(hook.raw, headers)).toThrow();
    const hosted = headers['x-asyncqueue-signature'];
    expect(hosted?.split(',').filter((p) => p.startsWith('v1='))).toHaveLength(2);
    expect(verifyAsyncQueueSignature(hosted, hook.raw, newSecret)).toBe(true);
    expect(verifyAsyncQueueSignature(hosted, hook.raw, oldSecret)).toBe(true);
    expect(verifyAsyncQueueSignature(hosted, hook.raw, stranger)).toBe(false);
    // The dispatched call itself carries both signatures too, with keys derived from each secret.
    const call = ctx.provider.received.find((r) => r.headers['x-asyncqueue-task-id'] === task.id);
    const callSignature = call?.headers['x-asyncqueue-signature'] as string;
    expect(callSignature.split(',').filter((p) => p.startsWith('v1='))).toHaveLength(2);
    const request = { method: 'POST', url: ctx.provider.url('/ok?rotation=1') };
    expect(() => verifyDispatch('{"r":1}', call?.headers ?? {}, newSecret, request)).not.toThrow();
    expect(() => verifyDispatch('{"r":1}', call?.headers ?? {}, oldSecret, request)).not.toThrow();
    expect(() => verifyDispatch('{"r":1}', call?.headers ?? {}, stranger, request)).toThrow();
  });

  it("a key holder cannot forge a completion webhook: a dispatch's signature does not verify as one", async () => {
    // The body a forger would choose: a webhook event for another task, sent to a target they own.
    const forged = JSON.stringify({ event: 'task.completed', task: { id: 'victim-task', status: 'completed' } });
    const targetUrl = ctx.provider.url('/ok?forge=1');
    const { task } = await create({ targetUrl, body: forged });
    await until(task.id, 'completed');
    const call = ctx.provider.received.find((r) => r.headers['x-asyncqueue-task-id'] === task.id);
    expect(call?.body).toBe(forged);
    const signature = call?.headers['x-asyncqueue-signature'] as string;
    // Replayed to the team's webhook receiver, it fails the completion webhook check…
    expect(verifyAsyncQueueSignature(signature, forged, ctx.team.webhookSecret)).toBe(false);
    // …while the target verifies it as what it is: a dispatch of this method and URL.
    expect(() =>
      verifyDispatch(forged, call?.headers ?? {}, ctx.team.webhookSecret, { method: 'POST', url: targetUrl }),
    ).not.toThrow();
  });
});
