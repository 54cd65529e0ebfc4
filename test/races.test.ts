import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeProvider, startFakeProvider } from './helpers/fake-provider.ts';
import { type ApiResponse, api } from './helpers/http.ts';
import { between, pollForStatus, sleep, tally, waitForQuietSink } from './helpers/race-tools.ts';
import { startTestApp, type TestApp, type TestTeam } from './helpers/test-app.ts';
import { startWebhookSink, type WebhookSink } from './helpers/webhook-sink.ts';

// Every transition is a conditional UPDATE, so two actors racing can never both win.
// Each race below is repeated; the trial counts are in the test names and in the summary printed
// at the end of the file.

const DUPLICATE_TRIALS = 10;
const DUPLICATE_CALLBACKS = 50;
const EXPIRY_TRIALS = 12;
const CANCEL_CALLBACK_TRIALS = 24;
const SIGNAL_TRIALS = 10;
const CONCURRENT_SIGNALS = 20;
const CANCEL_DISPATCH_TRIALS = 12;

const CALLBACK_NOT_FOUND = 'Invalid or expired callback ID';
const SIGNAL_NOT_FOUND = 'Invalid or expired signal token';
const notWaiting = (status: string) => `Task is not in waiting/polling state (current: ${status})`;
const TERMINAL = ['completed', 'failed', 'timeout', 'cancelled'];
const EVENT_OF: Record<string, string> = {
  completed: 'task.completed',
  failed: 'task.failed',
  timeout: 'task.timeout',
};

let t: TestApp;
let team: TestTeam;
let provider: FakeProvider;
let sink: WebhookSink;
const summary: Record<string, unknown> = {};

beforeAll(async () => {
  t = await startTestApp({
    // Limits high enough never to interfere: hundreds of callbacks and signals come from 127.0.0.1.
    ASYNCQUEUE_RATE_LIMIT_PER_MINUTE: '100000',
    ASYNCQUEUE_CALLBACK_RATE_LIMIT_PER_MINUTE: '100000',
    ASYNCQUEUE_DB_POOL_SIZE: '6',
    LOG_LEVEL: 'info',
  });
  team = await t.newTeam();
  provider = await startFakeProvider();
  sink = await startWebhookSink(() => team.webhookSecret);
});

afterAll(async () => {
  await t?.stop();
  await provider?.stop();
  await sink?.stop();
  process.stderr.write(`races.test summary: ${JSON.stringify(summary)}\n`);
});

type Created = { task: { id: string; status: string }; callbackUrl?: string; signalToken?: string };

async function create(body: Record<string, unknown>): Promise<Created> {
  const res = await api(t.url, 'POST', '/v1/tasks', { key: team.apiKey, body });
  expect(res.status, res.text).toBe(201);
  return res.body as Created;
}

/** A callback task (placeholder in a header, waitForSignal false) with a completion webhook. */
async function createCallbackTask(tag: string, extra: Record<string, unknown> = {}) {
  const created = await create({
    targetUrl: provider.url(`/ok?race=${tag}`),
    headers: { 'X-Callback': '{asyncqueue_callback_url}' },
    waitForSignal: false,
    onCompleteUrl: sink.url,
    ...extra,
  });
  expect(created.callbackUrl).toMatch(/\/v1\/callbacks\/[0-9a-f]{64}$/);
  return { id: created.task.id, callbackUrl: created.callbackUrl as string };
}

const postJson = (absoluteUrl: string, raw: string): Promise<ApiResponse> =>
  api('', 'POST', absoluteUrl, { rawBody: raw, headers: { 'content-type': 'application/json' } });
const cancel = (id: string) => api(t.url, 'POST', `/v1/tasks/${id}/cancel`, { key: team.apiKey });
const getTask = async (id: string) => {
  const res = await api(t.url, 'GET', `/v1/tasks/${id}`, { key: team.apiKey });
  expect(res.status, res.text).toBe(200);
  return res.body.task;
};
const untilStatus = (id: string, statuses: string | string[], timeoutMs = 15_000) =>
  pollForStatus(t.url, team.apiKey, id, statuses, timeoutMs);

/** After the sink went quiet: exactly one verified webhook for each task, with the right event. */
function expectOneWebhook(id: string, status: string) {
  const deliveries = sink.forTask(id);
  expect(deliveries, `webhooks for ${id}`).toHaveLength(1);
  const [delivery] = deliveries;
  expect(delivery).toMatchObject({ event: EVENT_OF[status], status, standardValid: true, asyncQueueValid: true });
  const sameId = sink.deliveries.filter((d) => d.webhookId === delivery?.webhookId);
  expect(sameId, `deliveries with webhook-id ${delivery?.webhookId}`).toHaveLength(1);
}

describe('races', () => {
  it(`${DUPLICATE_CALLBACKS} concurrent identical callbacks × ${DUPLICATE_TRIALS} trials: one 200, one completion, one webhook`, {
    timeout: 90_000,
  }, async () => {
    const loserAnswers: number[] = [];
    const ids: string[] = [];
    for (let trial = 0; trial < DUPLICATE_TRIALS; trial += 1) {
      const { id, callbackUrl } = await createCallbackTask(`dup-${trial}`);
      await untilStatus(id, 'waiting');
      const payload = JSON.stringify({ status: 'done', trial, output: `dup-output-${trial}` });
      const answers = await Promise.all(
        Array.from({ length: DUPLICATE_CALLBACKS }, () => postJson(callbackUrl, payload)),
      );
      const winners = answers.filter((a) => a.status === 200);
      expect(winners, `trial ${trial}: ${JSON.stringify(tally(answers.map((a) => a.status)))}`).toHaveLength(1);
      const winner = winners[0] as ApiResponse;
      expect(winner.body.task).toMatchObject({ id, status: 'completed' });
      expect(winner.body.task.result.body).toBe(payload);
      for (const loser of answers.filter((a) => a.status !== 200)) {
        loserAnswers.push(loser.status);
        if (loser.status === 404) expect(loser.body.error).toBe(CALLBACK_NOT_FOUND);
        else {
          expect(loser.status, loser.text).toBe(409);
          expect(loser.body.error).toBe(notWaiting('completed'));
        }
      }
      // Completed once: the winner's completion is the one stored, never overwritten by a loser.
      const stored = await getTask(id);
      expect(stored.status).toBe('completed');
      expect(stored.result.body).toBe(payload);
      expect(stored.completedAt).toBe(winner.body.task.completedAt);
      ids.push(id);
    }
    // Why a quiet period: a duplicate webhook would come from a second job right behind the first.
    await waitForQuietSink(sink, { since: Date.now() });
    for (const id of ids) {
      expectOneWebhook(id, 'completed');
      const task = await getTask(id);
      expect(task.webhookDeliveries).toHaveLength(1);
      expect(task.webhookDeliveries[0]).toMatchObject({ attempt: 1, statusCode: 200 });
    }
    summary.duplicateCallbacks = {
      trials: DUPLICATE_TRIALS,
      callbacksPerTrial: DUPLICATE_CALLBACKS,
      loserAnswers: tally(loserAnswers),
    };
  });

  it(`callback vs expiry at the deadline × ${EXPIRY_TRIALS} trials: one terminal status, the loser sees it`, {
    timeout: 60_000,
  }, async () => {
    const runTrial = async (trial: number) => {
      // Why: staggered starts sample different phases of the expire worker's 1 s job poll.
      await sleep(trial * 170);
      const { id, callbackUrl } = await createCallbackTask(`expiry-${trial}`, { maxWaitTime: 1 });
      const waiting = await untilStatus(id, ['waiting', ...TERMINAL]);
      expect(waiting.status, `trial ${trial} must be seen waiting first`).toBe('waiting');
      // updatedAt is the waiting transition (same host clock); the expiry job is due 1 s later and
      // runs on the worker's next 1 s poll, so the deadline falls in [+1000, +2000] ms.
      const deadline = Date.parse(waiting.updatedAt) + 1_000;
      const offsetMs = between(-200, 1_200);
      // Why a timed sleep: this test is literally about firing the callback at the deadline.
      await sleep(deadline + offsetMs - Date.now());
      const payload = JSON.stringify({ status: 'done', trial });
      const answer = await postJson(callbackUrl, payload);
      const final = await untilStatus(id, TERMINAL);
      return { trial, id, payload, offsetMs, answer, final };
    };
    const results = await Promise.all(Array.from({ length: EXPIRY_TRIALS }, (_, i) => runTrial(i)));
    await waitForQuietSink(sink, { since: Date.now() });
    const outcomes: string[] = [];
    for (const { trial, id, payload, answer, final, offsetMs } of results) {
      const label = `trial ${trial} (callback at deadline${offsetMs >= 0 ? '+' : ''}${offsetMs} ms): ${answer.status} ${answer.text}`;
      expect(['completed', 'timeout'], label).toContain(final.status);
      if (answer.status === 200) {
        expect(final.status, label).toBe('completed');
        expect(final.result.body).toBe(payload);
        expect(answer.body.task.status).toBe('completed');
      } else {
        expect(answer.status, label).toBe(409);
        expect(answer.body.error, label).toBe(notWaiting('timeout'));
        expect(final.status, label).toBe('timeout');
        expect(final.error).toContain('maxWaitTime');
      }
      // Terminal statuses never change again.
      expect((await getTask(id)).status, label).toBe(final.status);
      expectOneWebhook(id, final.status);
      outcomes.push(final.status);
    }
    summary.callbackVsExpiry = { trials: EXPIRY_TRIALS, outcomes: tally(outcomes) };
  });

  it(`cancel vs callback × ${CANCEL_CALLBACK_TRIALS} trials: one wins, never both, no webhook for cancelled`, {
    timeout: 90_000,
  }, async () => {
    const results: { id: string; final: string }[] = [];
    for (let trial = 0; trial < CANCEL_CALLBACK_TRIALS; trial += 1) {
      const { id, callbackUrl } = await createCallbackTask(`cancel-cb-${trial}`);
      await untilStatus(id, 'waiting');
      const payload = JSON.stringify({ status: 'done', trial });
      // The cancel goes through auth and the rate limiter first; a small random head start for
      // either side spreads the trials over both outcomes.
      const skew = between(-8, 12);
      const [cancelled, called] = await Promise.all([
        sleep(Math.max(0, -skew)).then(() => cancel(id)),
        sleep(Math.max(0, skew)).then(() => postJson(callbackUrl, payload)),
      ]);
      const label = `trial ${trial} (skew ${skew}): cancel ${cancelled.status} ${cancelled.text} / callback ${called.status} ${called.text}`;
      expect(
        [cancelled.status, called.status].filter((s) => s === 200),
        label,
      ).toHaveLength(1);
      const stored = await getTask(id);
      if (cancelled.status === 200) {
        expect(cancelled.body.task.status, label).toBe('cancelled');
        expect(called.status, label).toBe(409);
        expect(called.body.error, label).toBe(notWaiting('cancelled'));
        expect(stored.status, label).toBe('cancelled');
        expect(stored.result, label).toBeNull();
      } else {
        expect(called.status, label).toBe(200);
        expect(called.body.task.status, label).toBe('completed');
        expect(cancelled.status, label).toBe(409);
        expect(cancelled.body.error, label).toBe('Task is already completed');
        expect(stored.status, label).toBe('completed');
        expect(stored.result.body, label).toBe(payload);
      }
      results.push({ id, final: stored.status });
    }
    await waitForQuietSink(sink, { since: Date.now() });
    for (const { id, final } of results) {
      if (final === 'cancelled') expect(sink.forTask(id), `no webhook for cancelled ${id}`).toHaveLength(0);
      else expectOneWebhook(id, 'completed');
    }
    summary.cancelVsCallback = { trials: CANCEL_CALLBACK_TRIALS, outcomes: tally(results.map((r) => r.final)) };
  });

  it(`${CONCURRENT_SIGNALS} concurrent signals (completed and failed) × ${SIGNAL_TRIALS} trials: exactly one 200`, {
    timeout: 60_000,
  }, async () => {
    const loserAnswers: number[] = [];
    const winners: string[] = [];
    const ids: { id: string; status: string }[] = [];
    for (let trial = 0; trial < SIGNAL_TRIALS; trial += 1) {
      const created = await create({
        targetUrl: provider.url(`/ok?race=signal-${trial}`),
        waitForSignal: true,
        onCompleteUrl: sink.url,
      });
      const id = created.task.id;
      expect(created.signalToken).toMatch(/^[0-9a-f]{64}$/);
      await untilStatus(id, 'waiting');
      const signals = Array.from({ length: CONCURRENT_SIGNALS }, (_, n) =>
        n % 2 === 0
          ? { status: 'completed', result: { trial, n } }
          : { status: 'failed', error: `rejected ${trial}/${n}` },
      );
      const answers = await Promise.all(
        signals.map((body) => api(t.url, 'POST', `/v1/signals/${created.signalToken}`, { body })),
      );
      const label = `trial ${trial}: ${JSON.stringify(tally(answers.map((a) => a.status)))}`;
      const won = answers.flatMap((a, n) => (a.status === 200 ? [n] : []));
      expect(won, label).toHaveLength(1);
      const n = won[0] as number;
      const winning = signals[n] as { status: string; result?: unknown; error?: string };
      const stored = await getTask(id);
      expect(stored.status, label).toBe(winning.status);
      expect((answers[n] as ApiResponse).body.task.status).toBe(winning.status);
      if (winning.status === 'completed') expect(stored.result.body).toBe(JSON.stringify(winning.result));
      else expect(stored.error).toBe(winning.error);
      for (const loser of answers.filter((a) => a.status !== 200)) {
        loserAnswers.push(loser.status);
        if (loser.status === 404) expect(loser.body.error).toBe(SIGNAL_NOT_FOUND);
        else {
          expect(loser.status, loser.text).toBe(409);
          expect(loser.body.error).toBe(notWaiting(winning.status));
        }
      }
      winners.push(winning.status);
      ids.push({ id, status: winning.status });
    }
    await waitForQuietSink(sink, { since: Date.now() });
    for (const { id, status } of ids) expectOneWebhook(id, status);
    summary.signalVsSignal = {
      trials: SIGNAL_TRIALS,
      signalsPerTrial: CONCURRENT_SIGNALS,
      winners: tally(winners),
      loserAnswers: tally(loserAnswers),
    };
  });

  it(`cancel vs dispatch at 0–300 ms × ${CANCEL_DISPATCH_TRIALS} trials: always cancelled, at most one call`, {
    timeout: 60_000,
  }, async () => {
    const runTrial = async (trial: number) => {
      const created = await create({
        targetUrl: provider.url(`/hang?race=cancel-dispatch-${trial}`),
        timeout: 2,
        maxRetries: 3,
        retryBackoff: 'linear',
        onCompleteUrl: sink.url,
      });
      const id = created.task.id;
      const delayMs = between(0, 300);
      // Why a timed sleep: the point is to cancel at a random moment of the dispatch.
      await sleep(delayMs);
      const answer = await cancel(id);
      const label = `trial ${trial} (cancel after ${delayMs} ms): ${answer.status} ${answer.text}`;
      expect(answer.status, label).toBe(200);
      const immediate = answer.body.task.status === 'cancelled';
      if (!immediate) expect(answer.body.task, label).toMatchObject({ status: 'processing', cancelRequested: true });
      // A flagged task ends when its attempt does: the 2 s per-attempt timeout of /hang.
      const final = await untilStatus(id, TERMINAL, 20_000);
      return { trial, id, delayMs, immediate, label, final };
    };
    const results = await Promise.all(Array.from({ length: CANCEL_DISPATCH_TRIALS }, (_, i) => runTrial(i)));
    // Why a quiet period: a wrongly scheduled retry (1 s linear backoff) or a webhook would land in it.
    await waitForQuietSink(sink, { since: Date.now(), quietMs: 2_500 });
    for (const { id, immediate, label, final } of results) {
      const task = await getTask(id);
      expect(final.status, label).toBe('cancelled');
      expect(task.status, label).toBe('cancelled');
      const calls = provider.received.filter((r) => r.headers['x-asyncqueue-task-id'] === id);
      expect(calls.length, label).toBeLessThanOrEqual(1);
      if (immediate) {
        // Cancelled before any claim: the dispatch job finds a cancelled task and never calls.
        expect(calls, label).toHaveLength(0);
        expect(task.attempts, label).toHaveLength(0);
      } else {
        expect(calls, label).toHaveLength(1);
        expect(task.cancelRequested, label).toBe(true);
        expect(task.attempts, label).toHaveLength(1);
        expect(task.attempts[0], label).toMatchObject({ number: 1, willRetry: false });
      }
      expect(sink.forTask(id), `no webhook for cancelled ${id}`).toHaveLength(0);
    }
    summary.cancelVsDispatch = {
      trials: CANCEL_DISPATCH_TRIALS,
      cancelledAtOnce: results.filter((r) => r.immediate).length,
      cancelledAfterAttempt: results.filter((r) => !r.immediate).length,
    };
  });
});
