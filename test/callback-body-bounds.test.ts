import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeProvider, startFakeProvider } from './helpers/fake-provider.ts';
import { api } from './helpers/http.ts';
import { sleep } from './helpers/race-tools.ts';
import { type RawConnection, rawConnect, requestHead } from './helpers/raw-http.ts';
import { createWaitingCallbackTask } from './helpers/task-waits.ts';
import { startTestApp, type TestApp, type TestTeam } from './helpers/test-app.ts';

const CALLBACK_LIMIT = 5;
/** Far longer than any answer takes; before the fix no answer came until the whole body was sent. */
const ANSWER_BOUND_MS = 10_000;
const MiB = 1024 * 1024;
let provider: FakeProvider;
let t: TestApp;
let team: TestTeam;
const open: RawConnection[] = [];
let ipCounter = 0;
/** Each test speaks from its own client IP (one trusted proxy hop), so per-IP budgets do not mix. */
const nextIp = () => {
  ipCounter += 1;
  return `198.51.100.${ipCounter}`;
};

beforeAll(async () => {
  provider = await startFakeProvider();
  // Default callback size limit (5 MiB); a small per-IP budget.
  t = await startTestApp({ ASYNCQUEUE_CALLBACK_RATE_LIMIT_PER_MINUTE: String(CALLBACK_LIMIT), TRUST_PROXY: '1' });
  team = await t.newTeam();
});
afterAll(async () => {
  for (const connection of open) connection.close();
  await t.stop();
  await provider.stop();
});

const waitingCallbackTask = () => createWaitingCallbackTask(t.url, team.apiKey, provider.url('/ok'));

/** Sends the head of a callback (declaring `length` bytes) and `sent` of them; the body is never finished. */
async function partialCallback(path: string, ip: string, length: number, sent = '{"blob": "') {
  const connection = await rawConnect(t.url);
  open.push(connection);
  await connection.write(
    requestHead('POST', path, { 'Content-Type': 'application/json', 'Content-Length': length, 'X-Forwarded-For': ip }),
  );
  await connection.write(sent);
  return connection;
}

describe('callbacks: everything cheap happens before the body is read', () => {
  it('answers 404 to a random well-formed id before reading a 4.8 MB body, and closes the connection', async () => {
    const connection = await partialCallback(`/v1/callbacks/${'e'.repeat(64)}`, nextIp(), 4_800_000);
    const res = await connection.response(ANSWER_BOUND_MS);
    expect(res.kind).toBe('response');
    if (res.kind !== 'response') return;
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body)).toEqual({ error: 'Invalid or expired callback ID', code: 'not_found' });
    expect(res.headers.connection).toBe('close');
    await connection.closed;
  });

  it('takes the per-IP budget before reading the body: 429 with Retry-After, body unsent', async () => {
    const ip = nextIp();
    for (let i = 0; i < CALLBACK_LIMIT; i += 1) {
      const res = await api(t.url, 'POST', `/v1/callbacks/${'d'.repeat(64)}`, {
        body: { i },
        headers: { 'x-forwarded-for': ip },
      });
      expect(res.status).toBe(404);
    }
    const connection = await partialCallback(`/v1/callbacks/${'d'.repeat(64)}`, ip, 4_800_000);
    const res = await connection.response(ANSWER_BOUND_MS);
    expect(res.kind === 'response' && res.status).toBe(429);
    if (res.kind === 'response') expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  });

  it('reads at most 4 callback bodies at once: a 5th waits for a slot, then gets 503 with Retry-After', async () => {
    const task = await waitingCallbackTask();
    const slow = await Promise.all(
      Array.from({ length: 4 }, () => partialCallback(task.path, nextIp(), 1000, '{"status": "done", "pad": "')),
    );
    // Only for the 4 requests to pass their rate-limit point and look-up and take the 4 slots.
    await sleep(1_500);
    const fifth = await api(t.url, 'POST', task.path, {
      body: { status: 'done' },
      headers: { 'x-forwarded-for': nextIp() },
    });
    expect(fifth.status).toBe(503);
    expect(fifth.headers.get('retry-after')).toBe('1');
    const still = await api(t.url, 'GET', `/v1/tasks/${task.id}`, { key: team.apiKey });
    expect(still.body.task.status).toBe('waiting');
    // The first slow sender finishes its body: it is read and completes the task.
    const first = slow[0] as RawConnection;
    await first.write(`${'x'.repeat(1000 - '{"status": "done", "pad": "'.length - 2)}"}`);
    const res = await first.response(ANSWER_BOUND_MS);
    expect(res.kind === 'response' && res.status).toBe(200);
    for (const connection of slow.slice(1)) connection.close();
  });
});

describe('callbacks over the size limit get a readable 413', () => {
  it('answers a 6 MiB callback with Content-Length with 413 and its JSON body (fetch reads it), the id stays usable', async () => {
    const task = await waitingCallbackTask();
    const huge = JSON.stringify({ blob: 'x'.repeat(6 * MiB) });
    const res = await api(t.url, 'POST', task.path, { rawBody: huge, headers: { 'x-forwarded-for': nextIp() } });
    expect(res.status).toBe(413);
    expect(res.body).toEqual({ error: expect.stringContaining('too large'), code: 'payload_too_large' });
    const ok = await api(t.url, 'POST', task.path, {
      body: { status: 'done' },
      headers: { 'x-forwarded-for': nextIp() },
    });
    expect(ok.status).toBe(200);
  });

  it('answers a chunked 6 MiB callback with 413 once 5 MiB are read, and the client reads it', async () => {
    const task = await waitingCallbackTask();
    const { hostname, port } = new URL(t.url);
    const answer = await new Promise<{ status: number; body: string; connection?: string }>((resolve, reject) => {
      const req = http.request(
        {
          host: hostname,
          port,
          method: 'POST',
          path: task.path,
          headers: { 'content-type': 'application/json', 'x-forwarded-for': nextIp() },
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            body += chunk;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body, connection: res.headers.connection }));
        },
      );
      // Writes after the server answered may fail: the answer is what counts.
      req.on('error', (error) => setTimeout(() => reject(error), 2_000));
      const chunk = Buffer.alloc(64 * 1024, 'x');
      let sent = 0;
      const pump = () => {
        while (sent < 6 * MiB) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        req.end();
      };
      req.write('{"blob": "');
      pump();
    });
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body)).toMatchObject({ code: 'payload_too_large' });
    expect(answer.connection).toBe('close');
  });
});
